/**
 * Routes and a probe shared by the HTTP engine tests and their child-process
 * server (test/helpers/http-engine-child.ts).
 */
import { createHash } from 'node:crypto';
import { RegistryError } from '../../src/errors/index.ts';
import type { Route, RequestContext } from '../../src/http/index.ts';
import { sleep } from './http-wire.ts';

export const MiB = 1024 * 1024;
export const BIG = 64 * MiB;
export const DIGEST = `sha256:${'a'.repeat(64)}`;

/** What handlers observed, for assertions. */
export class Probe {
  produced = 0;
  /** Bytes read again by `readAt` (a reread download). */
  reread = 0;
  downloadClosed = false;
  consumed = 0;
  uploadError: string | undefined;
  uploadSignalAborted = false;
  uploadDone: Promise<void>;
  #uploadResolve!: () => void;
  unexpected: unknown[] = [];
  completions: Array<{ route: string; status: number; aborted: boolean }> = [];
  constructor() {
    this.uploadDone = new Promise((r) => (this.#uploadResolve = r));
  }
  finishUpload() {
    this.#uploadResolve();
  }
  reset() {
    this.produced = 0;
    this.reread = 0;
    this.downloadClosed = false;
    this.consumed = 0;
    this.uploadError = undefined;
    this.uploadSignalAborted = false;
    this.uploadDone = new Promise((r) => (this.#uploadResolve = r));
  }
}

const json = (v: unknown) => ({ status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(v) });

export function routes(p: Probe, opts: { reuseDownloadBuffer?: boolean } = {}): Route[] {
  return [
    { name: 'base', methods: ['GET'], pattern: /^\/v2\/$/, handler: () => json({}) },
    {
      name: 'blob',
      methods: ['GET', 'HEAD'],
      pattern: /^\/v2\/(?<name>[a-z0-9]+(?:\/[a-z0-9]+)*)\/blobs\/(?<digest>sha256:[a-f0-9]{64})$/,
      handler: (ctx) => ({
        status: 200,
        headers: { 'Content-Length': 1234, 'Docker-Content-Digest': ctx.params.digest!, 'X-Name': ctx.params.name! },
        ...(ctx.method === 'GET' ? { body: Buffer.alloc(1234, 120) } : {}),
      }),
    },
    {
      name: 'ctx',
      methods: ['GET', 'POST'],
      pattern: /^\/ctx(?:\/.*)?$/,
      handler: (ctx: RequestContext) =>
        json({ method: ctx.method, path: ctx.path, rawQuery: ctx.rawQuery, tags: ctx.query.getAll('tag'), n: ctx.query.get('n'), dup: ctx.headers['x-dup'], remote: ctx.remoteAddress, secure: ctx.secure, id: ctx.id, peer: ctx.peerCertificate }),
    },
    { name: 'registry-error', methods: ['GET'], pattern: /^\/fail\/registry$/, handler: () => { throw new RegistryError('BLOB_UNKNOWN', 'no such blob', { detail: { digest: DIGEST } }); } },
    { name: 'crash', methods: ['GET'], pattern: /^\/fail\/crash$/, handler: () => { throw new Error('kaboom: secret internals'); } },
    { name: 'ignore', methods: ['PUT', 'POST'], pattern: /^\/ignore$/, handler: () => ({ status: 202, headers: { Location: '/somewhere' } }) },
    { name: 'slow', methods: ['GET'], pattern: /^\/slow$/, handler: async () => { await sleep(300); return json({ slow: true }); } },
    {
      name: 'download',
      methods: ['GET'],
      pattern: /^\/download$/,
      handler: () => ({ status: 200, headers: { 'Content-Type': 'application/octet-stream' }, body: { stream: produce(p, BIG, opts.reuseDownloadBuffer), length: BIG } }),
    },
    {
      name: 'download-into',
      methods: ['GET'],
      pattern: /^\/download-into$/,
      handler: (ctx) => {
        const total = Number(ctx.query.get('size') ?? BIG);
        // `?reread=1`: the source can read past bytes again (readAt), as a blob file can.
        const stream = fillSource(p, total, ctx.query.get('reread') !== null);
        return { status: 200, headers: { 'Content-Type': 'application/octet-stream' }, body: { stream, length: total } };
      },
    },
    {
      name: 'upload',
      methods: ['PUT'],
      pattern: /^\/upload$/,
      handler: async (ctx) => {
        const h = createHash('sha256');
        let sinceSleep = 0;
        try {
          // `?lend=1`: the engine may reuse a chunk's memory once the next is asked for; the
          // hash waits a tick, so more socket data arrives while the chunk is still in use.
          const lend = ctx.query.get('lend') !== null;
          for await (const chunk of ctx.body(lend ? { lend: true } : undefined)) {
            if (lend) await sleep(0);
            h.update(chunk);
            p.consumed += chunk.length;
            sinceSleep += chunk.length;
            if (sinceSleep >= MiB) {
              sinceSleep = 0;
              await sleep(25); // a slow disk: ~40 MiB/s
            }
          }
          return json({ bytes: p.consumed, digest: `sha256:${h.digest('hex')}`, received: ctx.bodyBytesReceived() });
        } catch (err) {
          p.uploadError = (err as Error).message;
          if (!ctx.signal.aborted) await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
          p.uploadSignalAborted = ctx.signal.aborted;
          throw err;
        } finally {
          p.finishUpload();
        }
      },
    },
  ];
}

/**
 * A 64 MiB body in 256 KiB chunks, counting what was produced. Fresh buffers
 * by default; `reuse` sends one buffer over and over so the server makes no
 * garbage and its retained memory shows only what the engine buffers.
 */
const SHARED = Buffer.alloc(256 * 1024, 42);

export async function* produce(p: Probe, total: number, reuse = false): AsyncGenerator<Buffer> {
  try {
    for (let off = 0; off < total; off += 256 * 1024) {
      const size = Math.min(256 * 1024, total - off);
      const chunk = reuse && size === SHARED.length ? SHARED : Buffer.alloc(size, off / (256 * 1024));
      p.produced += chunk.length;
      yield chunk;
    }
  } finally {
    p.downloadClosed = true;
  }
}


/** Byte `k` of a `fillSource` body: a period (251) that no chunk or buffer size divides. */
export const patternByte = (k: number) => k % 251;
const PATTERN = Buffer.from(Array.from({ length: 251 * 1200 }, (_, i) => patternByte(i)));

/** True when `chunk`, found at body offset `at`, holds the pattern. */
export function matchesPattern(chunk: Buffer, at: number): boolean {
  for (let done = 0; done < chunk.length; ) {
    const n = Math.min(chunk.length - done, 251 * 1000);
    const from = (at + done) % 251;
    if (!chunk.subarray(done, done + n).equals(PATTERN.subarray(from, from + n))) return false;
    done += n;
  }
  return true;
}

/**
 * A body source like a blob file's: the engine may fill its own buffers with
 * `readInto` (each call is served after a tick, as a file read would be) or iterate.
 * Counts what was produced and records when it is destroyed or exhausted.
 */
export function fillSource(
  p: Probe,
  total: number,
  rereads = false,
): AsyncIterable<Buffer> & { destroy(): void; readInto(target: Buffer): Promise<number>; readAt?(target: Buffer, at: number): Promise<number>; keepOpen?(): void; readonly position?: number } {
  let position = 0;
  let closed = false;
  let keepOpen = false;
  const close = () => {
    closed = true;
    p.downloadClosed = true;
  };
  const fill = (target: Buffer, at: number, n: number) => {
    for (let done = 0; done < n; ) {
      const k = Math.min(n - done, 251 * 1000);
      const from = (at + done) % 251;
      PATTERN.copy(target, done, from, from + k);
      done += k;
    }
  };
  const readInto = async (target: Buffer): Promise<number> => {
    if (closed) throw new Error('source closed');
    const n = Math.min(target.length, total - position);
    const at = position;
    position += n;
    await sleep(0);
    fill(target, at, n);
    p.produced += n;
    if (position === total && !keepOpen) close();
    return n;
  };
  const extra = rereads
    ? {
        get position() {
          return position;
        },
        keepOpen() {
          keepOpen = true;
        },
        async readAt(target: Buffer, at: number) {
          if (closed) throw new Error('source closed');
          if (at + target.length > position) throw new RangeError('readAt past the bytes handed out');
          await sleep(0);
          fill(target, at, target.length);
          p.reread += target.length;
          return target.length;
        },
      }
    : {};
  const src = {
    readInto,
    destroy: close,
    async *[Symbol.asyncIterator]() {
      while (position < total) {
        const buf = Buffer.allocUnsafe(Math.min(256 * 1024, total - position));
        yield buf.subarray(0, await readInto(buf));
      }
    },
  };
  // Descriptors, not a spread: `position` must stay a live getter.
  return Object.defineProperties(src, Object.getOwnPropertyDescriptors(extra));
}
