/**
 * Writing a StreamBody to a node:http response. Blob files (sources with `readInto`) that
 * other clients are downloading at the same time go through chunk-source.ts, as on uWS
 * (pooled buffers, one read per chunk for all of them); anything else goes through node's
 * own write queue with backpressure ('drain').
 */
import type { ServerResponse } from 'node:http';
import { chunkSource, inCrowd, trackDownload } from './chunk-source.ts';
import type { StreamBody } from './types.ts';

/** Streams `body`; before any byte is sent a failure becomes `replyError`'s reply. Returns body bytes written. */
export async function streamToNode(res: ServerResponse, body: StreamBody, onError: (err: unknown) => void, replyError: (err: unknown) => Promise<number>): Promise<number> {
  // A blob others are downloading right now goes through the shared, pooled chunks (one
  // file read per chunk for all of them, bounded memory). A lone download is written
  // through node's own queue, several chunks in flight: waiting for each pooled chunk's
  // write to finish made a single pull ~30% slower on this engine.
  if (body.stream.readInto && inCrowd(body)) return streamPooled(res, body, onError, replyError);
  const untrack = trackDownload(body);
  try {
    return await streamQueued(res, body, onError, replyError);
  } finally {
    untrack();
  }
}

/** A lone download: node's own write queue keeps several chunks in flight. */
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

/**
 * A `readInto` body (blob files) through chunk-source.ts, as on uWS: pooled buffers, read
 * ahead, chunks shared between concurrent downloads of one blob. A pooled chunk may be
 * reused only once node has finished writing it (the write callback). A client that has
 * not taken it within FLUSH_WAIT_MS is slow: its buffer leaves the pool for good (the
 * write frees it) and its read-ahead moves to copies, so it cannot hold up the others.
 */
function streamPooled(res: ServerResponse, body: StreamBody, onError: (err: unknown) => void, replyError: (err: unknown) => Promise<number>): Promise<number> {
  const total = body.length;
  const source = chunkSource(body);
  return streamBody(res, total, onError, replyError, async (p) => {
    while (p.sent < total && !res.destroyed) {
      const next = await source.next(total - p.sent);
      if (next === null || res.destroyed) return;
      const chunk = next.length > total - p.sent ? next.subarray(0, total - p.sent) : next;
      await written(res, chunk, () => {
        source.detach();
        source.shed();
      });
      p.sent += chunk.length;
    }
  }, (complete) => source.close(complete));
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

/** How long a write may hold a pooled buffer before the buffer is given away (see streamPooled). */
const FLUSH_WAIT_MS = 10;

/** Writes `chunk`; resolves once node is done with it, or `slow()` took the buffer off our hands and the socket drained. */
function written(res: ServerResponse, chunk: Buffer, slow: () => void): Promise<void> {
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    res.on('close', done);
    res.write(chunk, done);
    // Armed even when write() said "go on": a short last chunk can sit queued behind a
    // stalled socket just the same.
    if (settled) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (settled) return;
      slow();
      // The write keeps the buffer; go on once the socket wants more.
      res.off('close', done);
      settled = true;
      void drained(res).then(resolve);
    }, FLUSH_WAIT_MS);
  });
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
