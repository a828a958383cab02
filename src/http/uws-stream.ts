/**
 * Writing a StreamBody to a uWS response with backpressure.
 *
 * uWS idiom (see uWebSockets.js examples/VideoStreamer.js): `tryEnd(chunk,
 * total)` writes what the socket takes and buffers nothing more. On `ok ===
 * false` we stop pulling from the source and wait for `onWritable(offset)`;
 * the part of the chunk already sent is `offset - offsetBeforeTheChunk`, and we
 * retry the rest from there. So at most one chunk per response is held in
 * memory, however slow the reader. Every write happens inside `cork` (after an
 * await we are no longer in a uWS callback) and never after an abort.
 */
import type { UwsResponse } from '../platform/native.ts';
import type { StreamBody } from './types.ts';

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
  const iterator = body.stream[Symbol.asyncIterator]();
  let headWritten = false;
  let sent = 0;
  let complete = false;
  // One handler for the whole response, forwarding to the current wait.
  // Registering a handler per wait strands the stream: our continuation runs
  // (as a microtask) while uWS is still inside the previous onWritable call,
  // and uWS's callOnWritable then puts the old handler back over the new one
  // (found by a hang at ~5 MiB of a 64 MiB download).
  const writable: { current?: (offset: number) => boolean } = {};
  res.onWritable((offset) => (writable.current && !state.aborted ? writable.current(offset) : true));
  try {
    while (!state.aborted) {
      let next: IteratorResult<Buffer>;
      try {
        next = await iterator.next();
      } catch (err) {
        return fail(res, state, toError(err), sent, headWritten);
      }
      if (state.aborted) break;
      if (next.done) break;
      // Never send more than announced: the connection would desync.
      const chunk = next.value.length > total - sent ? next.value.subarray(0, total - sent) : next.value;
      if (chunk.length === 0) continue;
      let ok = false;
      let done = false;
      let base = 0;
      res.cork(() => {
        if (!headWritten) writeHead();
        headWritten = true;
        base = res.getWriteOffset();
        [ok, done] = res.tryEnd(chunk, total);
      });
      if (!ok && !done) done = await whenWritable(res, state, writable, chunk, base, total);
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
    if (!complete) body.stream.destroy?.();
    // Let a generator or Readable release its file handle.
    void iterator.return?.()?.catch(() => undefined);
  }
}

/** Wait for uWS to drain, re-sending the unsent tail of `chunk`. Resolves `done`. */
function whenWritable(
  res: UwsResponse,
  state: ResponseState,
  writable: { current?: (offset: number) => boolean },
  chunk: Buffer,
  base: number,
  total: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const settle = (done: boolean) => {
      writable.current = undefined;
      state.onAbort = undefined;
      resolve(done);
    };
    state.onAbort = () => settle(false);
    writable.current = (offset) => {
      let ok = false;
      let done = false;
      res.cork(() => {
        [ok, done] = res.tryEnd(chunk.subarray(offset - base), total);
      });
      if (ok || done) settle(done);
      return ok;
    };
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
