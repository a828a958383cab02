/**
 * Writing a reply to a uWS response: buffered replies in one corked write, a StreamBody
 * with backpressure.
 *
 * uWS idiom (see uWebSockets.js examples/VideoStreamer.js): `tryEnd(chunk,
 * total)` writes what the socket takes and buffers nothing more. On `ok ===
 * false` we stop pulling from the source and wait for `onWritable(offset)`;
 * the part of the chunk already sent is `offset - offsetBeforeTheChunk`, and we
 * retry the rest from there. So at most one chunk per response is being written,
 * however slow the reader. Every write happens inside `cork` (after an
 * await we are no longer in a uWS callback) and never after an abort.
 *
 * Where the chunks come from (chunk-source.ts): a source with `readInto` is read into
 * pooled buffers, the next chunk while the current one is being sent; any other source
 * is iterated. A pooled chunk the socket does not take at once is held while the socket
 * drains as long as few buffers are held that way (ChunkSource.hold); else its unsent
 * bytes are let go and read again once the socket drains (a blob file), or copied out (a
 * source that cannot re-read). So slow clients never hold more than half the pool.
 */
import type { UwsResponse } from '../platform/native.ts';
import type { StreamBody } from './types.ts';
import { chunkSource } from './chunk-source.ts';
import { errorReply, toWireReply, type WireReply } from './dispatch.ts';

/** Write a WireReply. Returns body bytes handed to uWS. */
export function writeUwsReply(res: UwsResponse, state: ResponseState, wire: WireReply, method: string, id: string, onError: (err: unknown) => void): number | Promise<number> {
  wire.discard?.stream.destroy?.();
  const head = () => {
    res.writeStatus(wire.statusLine);
    for (const [k, v] of wire.headers) res.writeHeader(k, v);
  };
  const body = wire.body;
  if (body === undefined || Buffer.isBuffer(body)) {
    res.cork(() => {
      head();
      if (wire.contentLength === undefined) {
        res.endWithoutBody(); // 1xx/204/304: no length at all
      } else if (wire.isHead) {
        // Announce the GET length ourselves; uws.ts's header (and LIMITS.md) says why not endWithoutBody(n).
        res.writeHeader('Content-Length', String(wire.contentLength));
        res.endWithoutBody();
      } else {
        res.end(body ?? ''); // uWS writes Content-Length from the body
      }
    });
    state.finished = true;
    return body?.length ?? 0;
  }
  return streamToUws(res, state, head, body).then((result) => {
    if (result.error) onError(result.error);
    if (result.headerPending && !state.aborted) {
      // The source failed before the first byte: a proper error reply is still possible.
      return writeUwsReply(res, state, toWireReply(method, errorReply(result.error), id), method, id, onError);
    }
    return result.bytesSent;
  });
}

/** Per-response state shared with the adapter's onAborted handler. */
export interface ResponseState {
  aborted: boolean;
  /** Set when the response has been fully handed to uWS (res is then invalid). */
  finished: boolean;
  /** Called by onAborted so a pending wait for writability ends at once. */
  onAbort?: () => void;
}

/** How a streamed response ended. */
export interface StreamResult {
  readonly bytesSent: number;
  /** The source failed or ended short; the connection was closed to signal it. */
  readonly error?: Error;
  /** True when no response bytes were written (an error reply is still possible). */
  readonly headerPending: boolean;
}

/**
 * Stream `body` to `res`. `writeHead` writes status and headers (without
 * Content-Length: tryEnd writes it from `body.length`).
 */
export async function streamToUws(res: UwsResponse, state: ResponseState, writeHead: () => void, body: StreamBody): Promise<StreamResult> {
  const total = body.length;
  const source = chunkSource(body);
  let headWritten = false;
  let sent = 0;
  let complete = false;
  // One handler for the whole response, forwarding to the current wait.
  // Registering a handler per wait strands the stream: our continuation runs
  // (as a microtask) while uWS is still inside the previous onWritable call,
  // and uWS's callOnWritable then puts the old handler back over the new one
  // (found by a hang at ~5 MiB of a 64 MiB download).
  const writable: Writable = {};
  res.onWritable((offset) => (writable.current && !state.aborted ? writable.current(offset) : true));
  // The cork callback is made once and fed through `w`, not allocated per chunk.
  const w: { chunk: Buffer; ok: boolean; done: boolean; base: number } = { chunk: Buffer.alloc(0), ok: false, done: false, base: 0 };
  const write = () => {
    if (!headWritten) writeHead();
    headWritten = true;
    w.base = res.getWriteOffset();
    [w.ok, w.done] = res.tryEnd(w.chunk, total);
  };
  try {
    while (!state.aborted) {
      let next: Buffer | null;
      try {
        next = await source.next(total - sent);
      } catch (err) {
        return fail(res, state, toError(err), sent, headWritten);
      }
      if (state.aborted || next === null) break;
      // Never send more than announced: the connection would desync.
      const chunk = next.length > total - sent ? next.subarray(0, total - sent) : next;
      if (chunk.length === 0) continue;
      let piece = chunk;
      let done = false;
      for (;;) {
        w.chunk = piece;
        res.cork(write);
        done = w.done;
        if (w.ok || done || state.aborted) break;
        if (!source.lends || source.hold()) {
          done = await whenWritable(res, state, writable, piece, w.base, total);
          break;
        }
        const written = res.getWriteOffset() - w.base;
        if (source.letGo(written)) {
          // Nothing is kept while the socket drains: the unsent bytes are read again after.
          if (!(await drained(state, writable))) break;
          try {
            piece = await source.again();
          } catch (err) {
            if (state.aborted) break;
            return fail(res, state, toError(err), sent, headWritten);
          }
          if (state.aborted) break;
          continue;
        }
        // Slow readers already hold their share of the pool and this source cannot read
        // again (blob files can: this is for other sources): keep a copy of the unsent tail,
        // give the buffer back, and move the chunks read ahead out of the pool too.
        const rest = Buffer.from(piece.subarray(written));
        source.release();
        source.shed();
        done = await whenWritable(res, state, writable, rest, w.base + written, total);
        break;
      }
      if (state.aborted) break;
      sent += chunk.length;
      if (done) {
        complete = true;
        state.finished = true;
        return { bytesSent: total, headerPending: false };
      }
    }
    if (state.aborted) return { bytesSent: sent, headerPending: false };
    return fail(res, state, new Error(`stream body ended after ${sent} of ${total} bytes`), sent, headWritten);
  } finally {
    w.chunk = Buffer.alloc(0);
    source.close(complete);
  }
}

type Writable = { current?: (offset: number) => boolean };

/**
 * Waits on uWS's onWritable: `handle` gets each call's offset, settles the wait when it is
 * over, and returns what uWS is told (true: nothing more pending). An abort settles `aborted`.
 */
function onceWritable<T>(state: ResponseState, writable: Writable, aborted: T, handle: (offset: number, settle: (v: T) => void) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const settle = (v: T) => {
      writable.current = undefined;
      state.onAbort = undefined;
      resolve(v);
    };
    state.onAbort = () => settle(aborted);
    writable.current = (offset) => handle(offset, settle);
  });
}

/** Wait for uWS to drain, re-sending the unsent tail of `chunk`. Resolves `done`. */
function whenWritable(res: UwsResponse, state: ResponseState, writable: Writable, chunk: Buffer, base: number, total: number): Promise<boolean> {
  return onceWritable(state, writable, false, (offset, settle) => {
    let ok = false;
    let done = false;
    res.cork(() => {
      [ok, done] = res.tryEnd(chunk.subarray(offset - base), total);
    });
    if (ok || done) settle(done);
    return ok;
  });
}

/** Resolves true once the socket can take more (nothing written meanwhile), false on abort. */
function drained(state: ResponseState, writable: Writable): Promise<boolean> {
  // uWS asks for true when nothing was written, so it may drain what it buffered.
  return onceWritable(state, writable, false, (_offset, settle) => {
    settle(true);
    return true;
  });
}

/**
 * The source failed. Before any byte was written the caller can still send an
 * error reply; afterwards the only honest signal is closing the connection
 * (the client sees a body shorter than Content-Length).
 */
function fail(res: UwsResponse, state: ResponseState, error: Error, sent: number, headWritten: boolean): StreamResult {
  if (!headWritten) return { bytesSent: 0, error, headerPending: true };
  if (!state.aborted) {
    state.finished = true;
    res.close(); // runs onAborted synchronously; res is invalid afterwards
  }
  return { bytesSent: sent, error, headerPending: false };
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
