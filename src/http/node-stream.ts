/**
 * Writing a StreamBody to a node:http response. Blob files go by sendfile(2) where the
 * addon is built (node-sendfile.ts); otherwise sources with `readInto` go through
 * chunk-source.ts, as on uWS: the download pool shared with that engine, read
 * ahead, and one read per chunk for every client downloading the same blob at once. Each
 * chunk is handed to node's write queue without waiting for the write (waiting made a
 * single pull ~30% slower); the write's callback ends the chunk's loan. Other sources go
 * through node's queue with new buffers and backpressure ('drain').
 */
import type { ServerResponse } from 'node:http';
import { chunkSource, type ChunkLoan } from './chunk-source.ts';
import { pumpSendfile, sendfilePlan } from './node-sendfile.ts';
import type { SendfileBinding } from '../platform/native.ts';
import type { StreamBody } from './types.ts';

/** Streams `body`; before any byte is sent a failure becomes `replyError`'s reply. Returns body bytes written. */
export function streamToNode(
  res: ServerResponse,
  body: StreamBody,
  onError: (err: unknown) => void,
  replyError: (err: unknown) => Promise<number>,
  sendfile?: SendfileBinding,
): Promise<number> {
  const plan = sendfilePlan(res, body, sendfile);
  if (plan) {
    return streamBody(res, body.length, onError, replyError, (p) => pumpSendfile(res, plan, p), (complete) => {
      if (!complete) body.stream.destroy?.();
    });
  }
  return body.stream.readInto ? streamPooled(res, body, onError, replyError) : streamQueued(res, body, onError, replyError);
}

/** Any other body: node's own write queue, a new buffer per chunk. */
function streamQueued(res: ServerResponse, body: StreamBody, onError: (err: unknown) => void, replyError: (err: unknown) => Promise<number>): Promise<number> {
  const total = body.length;
  return streamBody(res, total, onError, replyError, async (p) => {
    for await (const data of body.stream) {
      if (res.destroyed) return;
      const chunk = data.length > total - p.sent ? data.subarray(0, total - p.sent) : data;
      if (chunk.length === 0) continue;
      if (!res.write(chunk)) await drained(res);
      p.sent += chunk.length;
      if (p.sent >= total) break;
    }
  }, (complete) => {
    if (!complete) body.stream.destroy?.();
  });
}

/** How long the socket may take to drain before the buffers it still holds leave the pool. */
const FLUSH_WAIT_MS = 10;

/**
 * A `readInto` body through the pooled chunk source. A pooled chunk is reused only once
 * node has written it (the write callback). A socket that has not drained within
 * FLUSH_WAIT_MS belongs to a slow client: the buffers its writes still hold leave the pool
 * for good (the writes free them) and its read-ahead moves to copies, so a stalled client
 * cannot hold up the other downloads.
 */
function streamPooled(res: ServerResponse, body: StreamBody, onError: (err: unknown) => void, replyError: (err: unknown) => Promise<number>): Promise<number> {
  const total = body.length;
  const source = chunkSource(body);
  const queued = new Set<ChunkLoan>();
  const forgetQueued = () => {
    for (const loan of queued) loan.forget();
    queued.clear();
  };
  return streamBody(res, total, onError, replyError, async (p) => {
    while (p.sent < total && !res.destroyed) {
      const next = await source.next(total - p.sent);
      if (next === null || res.destroyed) return;
      const chunk = next.length > total - p.sent ? next.subarray(0, total - p.sent) : next;
      const loan = source.keep();
      queued.add(loan);
      const ok = res.write(chunk, () => {
        queued.delete(loan);
        loan.done();
      });
      p.sent += chunk.length;
      if (!ok) {
        await drainedOrSlow(res, () => {
          forgetQueued();
          source.shed();
        });
      }
    }
  }, (complete) => {
    // Writes of a response cut short may never call back: their buffers leave the pool.
    // A complete one's last writes may still wait on a client that stopped reading.
    if (!complete) forgetQueued();
    else if (queued.size > 0) setTimeout(forgetQueued, FLUSH_WAIT_MS).unref();
    source.close(complete);
  });
}

/**
 * Runs `pump` (which writes the body, counting into `p.sent`) and ends the reply. A body
 * that fails or ends short before anything was sent becomes an error reply; after that the
 * only honest signal is a cut connection (the client sees fewer bytes than announced).
 */
async function streamBody(
  res: ServerResponse,
  total: number,
  onError: (err: unknown) => void,
  replyError: (err: unknown) => Promise<number>,
  pump: (p: { sent: number }) => Promise<void>,
  cleanup: (complete: boolean) => void,
): Promise<number> {
  const p = { sent: 0 };
  let complete = false;
  try {
    await pump(p);
    if (res.destroyed) return p.sent;
    if (p.sent < total) throw new Error(`stream body ended after ${p.sent} of ${total} bytes`);
    complete = true;
    res.end();
    return p.sent;
  } catch (err) {
    onError(err);
    if (!res.headersSent && !res.destroyed) return replyError(err);
    res.destroy();
    return p.sent;
  } finally {
    cleanup(complete);
  }
}

/** Resolves on 'drain' or 'close'; calls `slow` once if that takes longer than FLUSH_WAIT_MS. */
function drainedOrSlow(res: ServerResponse, slow: () => void): Promise<void> {
  const timer = setTimeout(slow, FLUSH_WAIT_MS);
  return drained(res).finally(() => clearTimeout(timer));
}

/** Resolve on 'drain', or on 'close' (the client left; the loop then stops). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
