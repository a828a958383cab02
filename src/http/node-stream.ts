/**
 * Writing a StreamBody to a node:http response. Blob files (sources with `readInto`) are
 * read into the download pool shared with the uWS engine: through chunk-source.ts when
 * other clients download the same blob (one read per chunk for all of them), else one
 * chunk ahead straight into node's write queue. Other sources go through node's queue
 * with new buffers and backpressure ('drain').
 */
import type { ServerResponse } from 'node:http';
import { CHUNK_SIZE, chunkSource, downloadBuffers, inCrowd, trackDownload } from './chunk-source.ts';
import type { StreamBody } from './types.ts';

/** Streams `body`; before any byte is sent a failure becomes `replyError`'s reply. Returns body bytes written. */
export async function streamToNode(res: ServerResponse, body: StreamBody, onError: (err: unknown) => void, replyError: (err: unknown) => Promise<number>): Promise<number> {
  // A blob others are downloading right now goes through the shared, pooled chunks (one
  // file read per chunk for all of them, bounded memory). A lone download also reads into
  // pooled buffers but hands each chunk to node's queue without waiting for its write
  // (waiting made a single pull ~30% slower); against new buffers per chunk (streamQueued,
  // still used for sources without readInto) that kept throughput and cut a 256 MiB
  // pull's peak RSS from 95 to 67 MiB.
  if (body.stream.readInto && inCrowd(body)) return streamPooled(res, body, onError, replyError);
  const untrack = trackDownload(body);
  try {
    if (body.stream.readInto) return await streamLone(res, body, onError, replyError);
    return await streamQueued(res, body, onError, replyError);
  } finally {
    untrack();
  }
}

/** A pooled buffer lent to node's write queue until the write's callback. */
interface Loan {
  buf: Buffer;
  /** Taken out of the pool (the write stayed pending too long); the callback must not return it. */
  forgotten: boolean;
}

/**
 * A lone download of a `readInto` body: pooled buffers, one chunk read ahead, and each
 * chunk handed to node's write queue without waiting for it to be written, so the socket
 * never idles between chunks; the write's callback gives the buffer back. When the socket
 * has not drained within FLUSH_WAIT_MS the buffers still queued leave the pool for good.
 */
function streamLone(res: ServerResponse, body: StreamBody, onError: (err: unknown) => void, replyError: (err: unknown) => Promise<number>): Promise<number> {
  const total = body.length;
  const readInto = body.stream.readInto!.bind(body.stream);
  const queued = new Set<Loan>();
  let claimed = 0;
  /** A chunk read: `pooled` unless it was copied out for a slow client (see `shed`). */
  type Chunk = { buf: Buffer; n: number; pooled: boolean };
  let reading: Promise<Chunk> | undefined;
  const giveBack = (c: Chunk) => c.pooled && downloadBuffers.give(c.buf);
  // A slow client keeps no pooled buffer for its read-ahead: the chunk is copied out.
  const shed = () => {
    reading = reading?.then((c) => {
      if (!c.pooled) return c;
      const copy = Buffer.from(c.buf.subarray(0, c.n));
      downloadBuffers.give(c.buf);
      return { buf: copy, n: c.n, pooled: false };
    });
    reading?.catch(() => undefined);
  };
  const readNext = (): Promise<Chunk> => {
    const want = Math.min(CHUNK_SIZE, total - claimed);
    claimed += want;
    const read = (async () => {
      const taken = downloadBuffers.take();
      const buf = taken instanceof Promise ? await taken : taken;
      try {
        return { buf, n: await readInto(want < buf.length ? buf.subarray(0, want) : buf), pooled: true };
      } catch (err) {
        downloadBuffers.give(buf);
        throw err;
      }
    })();
    read.catch(() => undefined);
    return read;
  };
  return streamBody(res, total, onError, replyError, async (p) => {
    reading = readNext();
    while (reading && !res.destroyed) {
      const chunk = await reading;
      const { buf, n } = chunk;
      reading = claimed < total ? readNext() : undefined;
      if (n === 0 || res.destroyed) {
        giveBack(chunk);
        return;
      }
      const loan: Loan = { buf, forgotten: !chunk.pooled };
      if (chunk.pooled) queued.add(loan);
      const ok = res.write(n === buf.length ? buf : buf.subarray(0, n), () => {
        queued.delete(loan);
        if (!loan.forgotten) downloadBuffers.give(buf);
      });
      p.sent += n;
      if (!ok) await drainedOrSlow(res, () => {
        for (const l of queued) {
          l.forgotten = true;
          downloadBuffers.forget(l.buf);
        }
        queued.clear();
        shed();
      });
    }
  }, (complete) => {
    if (!complete) {
      body.stream.destroy?.();
      // Writes of a response cut short may never call back: their buffers leave the pool.
      for (const l of queued) {
        l.forgotten = true;
        downloadBuffers.forget(l.buf);
      }
      queued.clear();
    }
    // A read still in flight owns its buffer until it ends.
    void reading?.then(giveBack, () => undefined);
  });
}

/** Resolves on 'drain' or 'close'; calls `slow` once if that takes longer than FLUSH_WAIT_MS. */
function drainedOrSlow(res: ServerResponse, slow: () => void): Promise<void> {
  const timer = setTimeout(slow, FLUSH_WAIT_MS);
  return drained(res).finally(() => clearTimeout(timer));
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
