/**
 * A large request body on node:http read from the socket directly (`native/sendfile/recv.c`)
 * instead of through node's parser.
 *
 * Why: node's parser hands a body over 64 KiB at a time, each piece copied into a new buffer
 * and pushed through a stream; on a 256 MiB push that kept the event loop busier than uWS on
 * the whole upload (a profile: 19% of its samples in the parser's copy and stream calls, 7%
 * in the kernel acknowledging each 64 KiB read). Here node is stopped from reading once the
 * headers are in, what it had already parsed is taken from `req`, and the rest of the body
 * (its length is known) is read 4 MiB at a time on a thread of the addon's, one read ahead
 * of the consumer.
 *
 * Node's parser never sees these bytes. A body read to its end is accounted to the parser
 * afterwards (node-parser-rejoin.ts), so the connection carries the client's next request. A
 * body that was not (the client hung up, the handler stopped early and the rest was too large
 * to drop), or one whose reply went out first, ends the connection: the reply says
 * `Connection: close` and node closes the socket after it.
 *
 * It relies on two behaviours of node:http (read in Node 20's lib/_http_server.js and
 * _http_incoming.js): a socket whose `_paused` is set is not restarted by `req.read()`, and
 * the body bytes node has read are all in `req`'s buffer once the read callback that brought
 * them has returned (the parser handles a whole read at a time, pausing only after it).
 * Anything unexpected (no descriptor, TLS, a chunked body) keeps the ordinary path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { IdlePool } from '../platform/idle-pool.ts';
import type { SocketRecv } from '../platform/native.ts';
import { rejoinParser } from './node-parser-rejoin.ts';

/** Bodies at least this large (by Content-Length) are read from the socket directly. */
export const SOCKET_BODY_MIN = 1024 * 1024;
/** Bytes per read (and per chunk given to the consumer). */
const READ_BYTES = 4 * 1024 * 1024;
/** A client that sends nothing for this long mid-body is cut off (ETIMEDOUT). */
const IDLE_MS = 60_000;
/**
 * When the consumer stops early (an error mid-body), up to this much of the rest is read and
 * dropped, as node's parser would, so the error reply is not lost to a reset; more is cut off.
 */
const DISCARD_MAX = 16 * 1024 * 1024;
const DISCARD_IDLE_MS = 5_000;
/**
 * Bodies read this way at once; more take node's parser. Bounds the read buffers to 32 MiB
 * however many clients push (eight 100 MB pushes at once peaked at 185 MiB of RSS without it).
 */
export const MAX_SOCKET_BODIES = 2;
let socketBodiesNow = 0;
const stats = { read: 0, rejoined: 0 };

/** Bodies read from the socket since start, and those whose connection went back to node's parser. */
export function socketBodyStats(): { read: number; rejoined: number } {
  return { ...stats };
}
/** Idle read buffers kept for the next large body (8 MiB), for 15 s. */
const readBuffers = new IdlePool(2, 15_000);

type RawHandle = { fd?: number; reading?: boolean; readStop?(): number };
type RawSocket = Socket & { _paused?: boolean; encrypted?: boolean; _handle?: RawHandle | null; _httpMessage?: unknown };
/**
 * The body of `req` read from its socket, or null when this request should take the ordinary
 * path: no addon, TLS, no Content-Length or a small one, a socket node no longer holds, or an
 * earlier pipelined reply still going out on it (node restarts reading when that drains), or
 * a reply already begun. On success the reply is marked `Connection: close` until the body has
 * been read to its end.
 */
export function socketBody(req: IncomingMessage, res: ServerResponse, recv: SocketRecv | null, add: (n: number) => void): SocketBody | null {
  if (!recv || req.headers['transfer-encoding'] !== undefined) return null;
  const length = Number(req.headers['content-length']);
  if (!Number.isSafeInteger(length) || length < SOCKET_BODY_MIN || req.complete) return null;
  const socket = req.socket as RawSocket;
  const handle = socket._handle;
  if (socket.encrypted || socket.destroyed || !handle || typeof handle.fd !== 'number' || handle.fd < 0 || typeof handle.readStop !== 'function') return null;
  if (socket._httpMessage !== res || res.headersSent) return null;
  if (socketBodiesNow >= MAX_SOCKET_BODIES) return null;
  stopReading(socket, handle);
  // Whatever restarts node's reading while the addon reads (its drain handler does, for one)
  // is undone at once: node's 'resume' listener runs first, and no read happens in between.
  const keepStopped = () => stopReading(socket, handle);
  socket.on('resume', keepStopped);
  // Until the body is read to its end and the parser rejoined (see rejoin below).
  res.setHeader('Connection', 'close');
  stats.read++;
  // Counted until the body is done, or the reply closed if it is never read.
  socketBodiesNow++;
  let held = true;
  const release = () => {
    if (held) socketBodiesNow--;
    held = false;
    socket.off('resume', keepStopped);
  };
  res.once('close', release);
  // Started now, not at the consumer's first read: the consumer first opens its file (a few
  // thread-pool round trips), and a new connection's small receive window would have the
  // client waiting meanwhile (256 MiB in 8 MiB PATCHes: 746 against 673 MiB/s and 768
  // against 723, medians of 24 and 18 pushes).
  const state: ReadState = { abandoned: false, cancel: undefined };
  // A body read to its end hands the connection back to node's parser, so it stays open.
  const rejoin = (unseen: number) => {
    if (res.headersSent || !rejoinParser(req, unseen)) return;
    res.removeHeader('Connection');
    stats.rejoined++;
  };
  const body = readBody(req, handle, length, recv, add, release, rejoin, state);
  const first = body.next();
  // Awaited by the consumer, if there is one; without, a failed first read must not go unhandled.
  first.catch(() => undefined);
  let consumed = false;
  const dropUnread = (): Promise<void> | undefined => {
    if (consumed) return undefined;
    consumed = true;
    return body.return(undefined).then(
      () => undefined,
      () => undefined,
    );
  };
  // A reply that ended without that (destroyed): nothing is left to keep the connection
  // readable for, so the read is cancelled and the descriptor closed.
  res.once('close', () => {
    if (consumed) return;
    state.abandoned = true;
    state.cancel?.();
    void dropUnread();
  });
  return { chunks: startedEarly(first, body, () => (consumed = true)), dropUnread };
}

/** Between socketBody and readBody: the reply is gone (see socketBody), and how to cut the read short. */
interface ReadState {
  abandoned: boolean;
  cancel: (() => void) | undefined;
}

/** A body being read from the socket. */
export interface SocketBody {
  chunks: AsyncGenerator<Buffer>;
  /**
   * When the consumer never read it (the handler failed first): reads and drops the rest, as
   * when a consumer stops early, so the error reply is not lost to a reset; undefined otherwise.
   */
  dropUnread(): Promise<void> | undefined;
}

/** The body whose first read was started already: `first`, then the rest of `body`. */
async function* startedEarly(first: Promise<IteratorResult<Buffer>>, body: AsyncGenerator<Buffer>, onRead: () => void): AsyncGenerator<Buffer> {
  onRead();
  try {
    const r = await first;
    if (r.done) return;
    yield r.value;
    yield* body;
  } finally {
    // Stopped after the first chunk, or failed: readBody's own clean-up runs (a no-op if done).
    await body.return(undefined);
  }
}

/** Stops node reading the socket; `_paused` keeps `req.read()` from starting it again. */
function stopReading(socket: RawSocket, handle: RawHandle): void {
  socket._paused = true;
  socket.pause();
  if (handle.reading) {
    handle.reading = false;
    handle.readStop!();
  }
}

async function* readBody(
  req: IncomingMessage,
  handle: RawHandle,
  length: number,
  recv: SocketRecv,
  add: (n: number) => void,
  release: () => void,
  rejoin: (unseen: number) => void,
  state: ReadState,
): AsyncGenerator<Buffer> {
  const socket = req.socket as RawSocket;
  // This may run inside node's 'request' event, before the parser has handled the rest of the
  // socket read that held the headers: after one turn of the loop every body byte node read is
  // in `req` (and it reads no more).
  await new Promise<void>((resolve) => setImmediate(resolve));
  // What node had already parsed.
  let taken = 0;
  const early: Buffer[] = [];
  for (let chunk: Buffer | null; (chunk = req.read() as Buffer | null) !== null; ) {
    taken += chunk.length;
    early.push(chunk);
  }
  if (taken > length) throw new Error(`node delivered ${taken} body bytes of ${length}`);
  const parsed = taken;
  const own = recv.dup(handle.fd!);
  // Node closing its socket (a server shutting down, a reply destroyed) must end the
  // connection, which the addon's copy of the descriptor would otherwise keep open.
  const cancel = () => recv.recvCancel(own);
  socket.once('close', cancel);
  state.cancel = cancel;
  // Closed already (before the listener), or given up on while waiting for the loop's turn.
  if (socket.destroyed || state.abandoned) cancel();
  const buffers = [takeBuffer(), takeBuffer()];
  let turn = 0;
  let reading: Promise<{ got: number; eof: boolean }> | undefined;
  let clientGone = false;
  const read = (buf: Buffer, want: number, idleMs: number) => {
    const r = recv.recv(own, buf, want, idleMs);
    // Handled here too: it may fail (a reset) while the consumer still holds the last chunk.
    r.catch(() => undefined);
    return r;
  };
  const start = () => {
    const want = Math.min(READ_BYTES, length - taken);
    const buf = buffers[turn]!;
    reading = read(buf, want, IDLE_MS);
    return { buf, want };
  };
  try {
    // The first read is under way before node's bytes are handed over.
    let next = taken < length ? start() : undefined;
    for (const chunk of early) {
      add(chunk.length);
      yield chunk;
    }
    while (next) {
      let got: number;
      try {
        ({ got } = await reading!);
      } catch (err) {
        clientGone = true;
        throw err;
      } finally {
        reading = undefined;
      }
      taken += got;
      const ready = next.buf.subarray(0, got);
      // Short: the client hung up (or sent nothing for IDLE_MS). What came is kept, as on
      // node's parser, and the body fails after it.
      const short = got < next.want;
      // One read ahead, into the other buffer; the consumer is done with it (lend).
      turn ^= 1;
      next = !short && taken < length ? start() : undefined;
      if (got > 0) {
        add(got);
        yield ready;
      }
      if (short) {
        clientGone = true;
        throw Object.assign(new Error('the client closed the connection before the request body ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      }
    }
  } finally {
    if (taken < length && !clientGone && !state.abandoned && length - taken <= DISCARD_MAX) {
      // Stopped early: the rest is read and dropped, so the reply reaches the client.
      try {
        if (reading) taken += (await reading).got;
        reading = undefined;
        while (taken < length) {
          const want = Math.min(READ_BYTES, length - taken);
          const { got } = await read(buffers[0]!, want, DISCARD_IDLE_MS);
          taken += got;
          if (got < want) break;
        }
      } catch {
        // The client went away meanwhile.
      }
    }
    if (reading) {
      cancel();
      await reading.catch(() => undefined);
    }
    socket.off('close', cancel);
    recv.close(own);
    for (const b of buffers) releaseBuffer(b);
    release();
    if (taken === length && !clientGone && !state.abandoned) rejoin(length - parsed);
  }
}

function takeBuffer(): Buffer {
  return readBuffers.take(() => Buffer.allocUnsafeSlow(READ_BYTES));
}

function releaseBuffer(buf: Buffer): void {
  readBuffers.release(buf);
}
