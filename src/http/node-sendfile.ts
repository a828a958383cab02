/**
 * Blob downloads on node:http with sendfile(2): the file's pages go from the page cache to
 * the socket without passing through JavaScript (the reference registry, in Go, does the
 * same). Copying each chunk through user space cost a read copy and a send copy on the
 * event loop; see the README's performance section for the figures.
 *
 * How it shares the socket with node: the headers and the first piece of the body go
 * through `res.write`, so node's own queue is empty before anything is written beneath
 * it. Then the addon sends from a descriptor of its own (a dup, so a client hanging up
 * can never redirect a send to a reused descriptor number) until the socket is full.
 * Node offers no "tell me when writable" for a socket it owns, so the wait is a write: the
 * next piece of the file goes through `res.write`, whose callback comes once the socket
 * took it, and sendfile carries on after it. The response announces its Content-Length, so
 * node adds no framing; bytes written beneath node are simply not counted by it.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SendfileBinding } from '../platform/native.ts';
import type { StreamBody } from './types.ts';

/** Bytes one thread-pool job may send before the loop gets a turn (fairness between downloads). */
const JOB_BYTES = 8 * 1024 * 1024;
/** The piece written through node to start, and to wait for the socket to drain. */
const PIECE_BYTES = 16 * 1024;

type SendBody = StreamBody & { readonly stream: Required<Pick<StreamBody['stream'], 'readInto' | 'sendWith'>> & StreamBody['stream'] };

/** What `sendfilePlan` found: the addon and the socket's descriptor. */
export interface SendfilePlan {
  readonly binding: SendfileBinding;
  readonly socketFd: number;
  readonly body: SendBody;
}

/**
 * Whether this response can be sent with sendfile: the addon is loaded, the body is a file
 * range, and the socket is a plain TCP socket with a descriptor (not TLS: the bytes must be
 * encrypted in user space).
 */
export function sendfilePlan(res: ServerResponse, body: StreamBody, binding: SendfileBinding | undefined): SendfilePlan | null {
  if (!binding || !body.stream.sendWith || !body.stream.readInto || body.length === 0) return null;
  // Bytes written beneath node must need no framing: never under chunked encoding.
  if (Number(res.getHeader('content-length')) !== body.length) return null;
  const socket = res.socket as (Socket & { encrypted?: boolean; _handle?: { fd?: number } }) | null;
  if (!socket || socket.encrypted) return null;
  const fd = socket._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  return { binding, socketFd: fd, body: body as SendBody };
}

/** Sends the whole body, counting into `p.sent`; stops early (without error) if the client leaves. */
export async function pumpSendfile(res: ServerResponse, plan: SendfilePlan, p: { sent: number }): Promise<void> {
  const { binding, body } = plan;
  const total = body.length;
  const piece = Buffer.allocUnsafe(Math.min(PIECE_BYTES, total));
  // Through node: the headers and the first piece, or the next piece once the socket is full.
  const writePiece = async (): Promise<boolean> => {
    const n = await body.stream.readInto(piece.subarray(0, Math.min(piece.length, total - p.sent)));
    if (n === 0) throw new Error(`file ended after ${p.sent} of ${total} bytes`);
    if (res.destroyed) return false;
    p.sent += n;
    return written(res, piece.subarray(0, n));
  };
  // A write that failed or was cut off: the client is gone (the socket may not say so yet).
  if (!(await writePiece())) return void res.destroy();
  const socket = binding.dup(plan.socketFd);
  try {
    while (p.sent < total && !res.destroyed) {
      let r;
      try {
        r = await body.stream.sendWith((fd, position, count) => binding.send(socket, fd, position, count), Math.min(JOB_BYTES, total - p.sent));
      } catch (err) {
        // The client hung up: as on the copying path, an ended download, not a server error.
        if (!clientGone(err)) throw err;
        res.destroy();
        return;
      }
      p.sent += r.sent;
      if (p.sent < total && r.blocked && !(await writePiece())) return void res.destroy();
    }
  } finally {
    binding.close(socket);
  }
}

function clientGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPIPE' || code === 'ECONNRESET';
}

/** Writes `data` through node; true once the socket took it, false if the response closed first. */
function written(res: ServerResponse, data: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const closed = () => resolve(false);
    res.once('close', closed);
    res.write(data, (err) => {
      res.off('close', closed);
      resolve(!err && !res.destroyed);
    });
  });
}
