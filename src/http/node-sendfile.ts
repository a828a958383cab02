/**
 * Blob downloads on node:http with sendfile(2): the file's pages go from the page cache to
 * the socket without passing through JavaScript (the reference registry, in Go, does the
 * same). Copying each chunk through user space cost a read copy and a send copy on the
 * event loop; scripts/bench/HISTORY.md has the figures.
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

/**
 * The send buffer (SO_SNDBUF; the kernel doubles it) of a socket a blob is sent on while
 * CROWD or more downloads are being sent: `SKIFF_SEND_BUFFER` bytes, 512 KiB by default, or
 * `auto` (the kernel's own tuning, which grows it up to net.ipv4.tcp_wmem's maximum, 4 MiB
 * here). Once set it stays for that connection.
 *
 * Why fixed and small when crowded: 32 clients pulling one 16 MiB blob over loopback (bench,
 * hload) got 5,100-5,200 MiB/s with 512 KiB against 3,300-3,600 with the kernel's tuning
 * (256 KiB: 5,900-6,100; 1 MiB: 4,500; 4 MiB: 2,900-3,100); less data waits in socket queues
 * between the file and the clients. Why not alone: one client pulling 256 MiB got 2,700-3,200
 * MiB/s with it against 4,100-4,400 without, as each socket-full costs a round trip through
 * the event loop. The price: a crowded connection has at most about 1 MiB unacknowledged,
 * one download then at most 1 MiB per round trip (400 Mbit/s at 20 ms; a LAN's round trip is
 * well under 1 ms). A registry serving far clients can set `auto`.
 */
export function sendBufferBytes(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.SKIFF_SEND_BUFFER?.trim();
  if (v === 'auto') return 0;
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isSafeInteger(n) && n > 0 && n <= MAX_SEND_BUFFER ? n : DEFAULT_SEND_BUFFER;
}
const DEFAULT_SEND_BUFFER = 512 * 1024;
/** Downloads being sent (this one included) from which a new one gets the fixed send buffer. */
export const CROWD = 4;
let sending = 0;
const MAX_SEND_BUFFER = 1024 * 1024 * 1024;

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
  sending++;
  // Read per download (a few hundred a second at most), so a test can change it.
  const sendBuffer = sending >= CROWD ? sendBufferBytes() : 0;
  if (sendBuffer > 0) binding.sendBuffer?.(socket, sendBuffer);
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
    sending--;
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
