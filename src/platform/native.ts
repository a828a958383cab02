/**
 * The native facade: the only module that loads code from `native/`.
 *
 * Two things live there: the uWebSockets.js binary (the choice of file lives in
 * `native/uws.cjs`; see its header for why we never use the package's main entry) and
 * skiff's own sendfile addon (`native/sendfile`, built by `npm ci`). This module adds
 * types, caching and the engine decision rule.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Types only: erased at runtime, so the package's main entry (with its silent
// JS fallback) is never executed.
import type * as uWS from '@trufflesuite/uws-js-unofficial';

/** The uWS module surface skiff uses (from the package's own declarations). */
export type UwsModule = typeof uWS;
export type UwsApp = uWS.TemplatedApp & {
  /** Present in the binaries we ship (closes every socket); absent from the d.ts. */
  close?(): void;
};
export type UwsResponse = uWS.HttpResponse;
export type UwsRequest = uWS.HttpRequest;
export type UwsListenSocket = uWS.us_listen_socket;

/** Result of trying to load the uWS binary. */
export type UwsLoad =
  | { readonly ok: true; readonly uws: UwsModule; readonly path: string }
  | { readonly ok: false; readonly reason: string };

interface NativeUwsLoader {
  binaryName(): string;
  load(): { uws: UwsModule | null; path: string | null; reason: string | null };
}

const requireNative = createRequire(import.meta.url);
let cached: UwsLoad | undefined;

/**
 * Load the uWS binary matching this platform, arch and Node ABI, once.
 * Returns `{ ok: false, reason }` instead of throwing when none matches
 * (e.g. Node 22, ABI 127): the caller falls back to node:http and says so.
 */
export function loadUws(): UwsLoad {
  if (cached) return cached;
  let loader: NativeUwsLoader | undefined;
  let lastErr: unknown;
  // From the sources this file is src/platform/native.ts; in the bundle it is dist/skiff.mjs.
  for (const candidate of ['../../native/uws.cjs', '../native/uws.cjs']) {
    try {
      loader = requireNative(candidate) as NativeUwsLoader;
      break;
    } catch (err) {
      lastErr = err;
    }
  }
  if (!loader) {
    cached = { ok: false, reason: `native/uws.cjs could not be loaded: ${(lastErr as Error).message}` };
    return cached;
  }
  const r = loader.load();
  cached = r.uws && r.path ? { ok: true, uws: r.uws, path: r.path } : { ok: false, reason: r.reason ?? 'unknown reason' };
  return cached;
}

/** The engines `http/` can run. */
export type HttpEngineName = 'uws' | 'node';

/** Why an engine was chosen, for the loud startup log line. */
export interface EngineChoice {
  readonly engine: HttpEngineName;
  /** Set when uWS was wanted (by default or by request) but is unavailable. */
  readonly fallbackReason?: string;
  readonly forcedBy?: 'option' | 'env';
}

/**
 * Decide the HTTP engine: an explicit option wins, then `SKIFF_HTTP_ENGINE`
 * (`node` or `uws`), then uWS when its binary loads, else node:http.
 * Asking for uWS when no binary matches still yields node:http (with a reason)
 * rather than refusing to start: an edge box must come up and serve.
 */
/** The engine asked for by the caller or SKIFF_HTTP_ENGINE (validated), without loading anything. */
export function requestedEngine(requested?: HttpEngineName, env: NodeJS.ProcessEnv = process.env): { want?: HttpEngineName; forcedBy?: 'option' | 'env' } {
  const fromEnv = env.SKIFF_HTTP_ENGINE?.trim().toLowerCase();
  if (fromEnv && fromEnv !== 'uws' && fromEnv !== 'node') {
    throw new Error(`SKIFF_HTTP_ENGINE must be "uws" or "node", got "${env.SKIFF_HTTP_ENGINE}"`);
  }
  const want = requested ?? (fromEnv as HttpEngineName | undefined);
  const forcedBy = requested ? 'option' : fromEnv ? 'env' : undefined;
  return { ...(want ? { want } : {}), ...(forcedBy ? { forcedBy } : {}) };
}

export function chooseHttpEngine(requested?: HttpEngineName, env: NodeJS.ProcessEnv = process.env): EngineChoice {
  const { want, forcedBy } = requestedEngine(requested, env);
  if (want === 'node') return { engine: 'node', ...(forcedBy ? { forcedBy } : {}) };
  const loaded = loadUws();
  if (loaded.ok) return { engine: 'uws', ...(forcedBy ? { forcedBy } : {}) };
  return { engine: 'node', fallbackReason: loaded.reason, ...(forcedBy ? { forcedBy } : {}) };
}

/** What one sendfile step did: bytes moved, and whether it stopped because the socket was full. */
export interface SendResult {
  readonly sent: number;
  readonly blocked: boolean;
}

/** Moves up to `count` bytes of descriptor `fd` from `position` elsewhere (sendfile(2)). */
export type FileSender = (fd: number, position: number, count: number) => Promise<SendResult>;

/** skiff's sendfile addon (`native/sendfile/sendfile.c`). */
export interface SendfileBinding {
  /** sendfile(2) on the thread pool until `count` bytes are sent or the socket is full. */
  send(socketFd: number, fileFd: number, position: number, count: number): Promise<SendResult>;
  /** A descriptor of the caller's own for the same socket (close-on-exec). */
  dup(fd: number): number;
  close(fd: number): void;
  /** SO_SNDBUF on a socket; false if the kernel refused. Absent from builds before it. */
  sendBuffer?(fd: number, bytes: number): boolean;
  /** malloc_trim(0) (`native/sendfile/trim.c`); false where the C library has none. Absent from builds before it. */
  trim?(): boolean;
  /** V8's LowMemoryNotification (`native/sendfile/memory.cc`). Absent from builds before it. */
  lowMemory?(): boolean;
  /** MADV_DONTNEED on this process's shared maps of a file (`native/sendfile/pages.c`). Absent from builds before it. */
  dropFilePages?(path: string): number;
  /** An existing file opened write-only with O_DIRECT (`native/sendfile/direct.c`), null where the file system cannot. Absent from builds before it. */
  directOpen?(path: string): DirectFile | null;
  /** `size` bytes at an address that is a multiple of `align`. Absent from builds before it. */
  alignedBuffer?(size: number, align: number): Buffer;
  /** Reads up to `want` bytes of a socket on a thread of the addon's (`native/sendfile/recv.c`). Absent from builds before it. */
  recv?(fd: number, buffer: Uint8Array, want: number, idleMs: number): Promise<{ got: number; eof: boolean }>;
  /** Shuts a socket for reading, ending a `recv` in flight. Absent from builds before it. */
  recvCancel?(fd: number): void;
  /** The running digest of `native/sendfile/hash.c`. Absent from builds before it. */
  hashCreate?: HashBinding['hashCreate'];
  hashUpdate?: HashBinding['hashUpdate'];
  hashPeek?: HashBinding['hashPeek'];
  hashFree?: HashBinding['hashFree'];
}

/** An opaque handle on a running digest in the addon. */
export type HashHandle = { readonly __brand: 'HashHandle' };

/** The addon's running digest (`native/sendfile/hash.c`). */
export interface HashBinding {
  hashCreate(algorithm: 'sha256' | 'sha512'): HashHandle;
  /** On the thread pool when `async` (the buffer must stay unchanged until it settles), else here. */
  hashUpdate(handle: HashHandle, data: Uint8Array, async: true): Promise<void>;
  hashUpdate(handle: HashHandle, data: Uint8Array, async: false): undefined;
  /** Hex digest of what was fed so far; the hash goes on. */
  hashPeek(handle: HashHandle): string;
  hashFree(handle: HashHandle): void;
}

/** A file descriptor opened with O_DIRECT, and the alignment its writes need. */
export interface DirectFile {
  readonly fd: number;
  /** Buffers written must start at a multiple of this. */
  readonly memAlign: number;
  /** File offsets and lengths written must be multiples of this. */
  readonly offsetAlign: number;
}

/** What the addon offers for writing large uploads past the page cache (storage/layout/appender.ts). */
export interface DirectIo {
  open(path: string): DirectFile | null;
  alignedBuffer(size: number, align: number): Buffer;
}

/** The addon's calls that read a request body from its socket (`native/sendfile/recv.c`). */
export type SocketRecv = Required<Pick<SendfileBinding, 'recv' | 'recvCancel' | 'dup' | 'close'>>;

/** What the addon offers for giving memory back (platform/memory-trim.ts). */
export interface NativeMemory {
  /** malloc_trim(0): free C-heap pages back to the kernel. */
  trim(): boolean;
  /** Full V8 collections until nothing more is freed, the young generation shrunk. */
  lowMemory(): boolean;
  /** Unmaps the resident pages of `path`'s shared maps (they stay cached); bytes advised. */
  dropFilePages(path: string): number;
}

/** Result of trying to load the sendfile addon. */
export type SendfileLoad = { readonly ok: true; readonly binding: SendfileBinding; readonly path: string } | { readonly ok: false; readonly reason: string };

const SENDFILE_BINARY = 'native/sendfile/build/Release/skiff_sendfile.node';
let sendfileCached: SendfileLoad | undefined;

/**
 * Load the sendfile addon once. `SKIFF_SENDFILE=off` turns it off (downloads then copy
 * through user space, as on a machine where it could not be built); `SKIFF_SENDFILE_BINARY`
 * names the file for builds that ship it elsewhere.
 */
export function loadSendfile(env: NodeJS.ProcessEnv = process.env): SendfileLoad {
  if (env.SKIFF_SENDFILE?.trim().toLowerCase() === 'off') return { ok: false, reason: 'SKIFF_SENDFILE=off' };
  if (env.SKIFF_SENDFILE_BINARY) return loadSendfileNow(env);
  sendfileCached ??= loadSendfileNow(env);
  return sendfileCached;
}

/** The addon's memory calls, or null without the addon (or with one built before it had them). */
export const nativeMemory = addonFeature<NativeMemory>((b) =>
  b.trim && b.lowMemory && b.dropFilePages ? { trim: () => b.trim!(), lowMemory: () => b.lowMemory!(), dropFilePages: (path) => b.dropFilePages!(path) } : null,
);

/**
 * The addon's direct-I/O calls, or null without the addon (or with one built before them),
 * or with `SKIFF_DIRECT_IO=off` (uploads are then written through the page cache).
 */
export const nativeDirectIo = switchable(
  'SKIFF_DIRECT_IO',
  addonFeature<DirectIo>((b) => (b.directOpen && b.alignedBuffer ? { open: (path) => b.directOpen!(path), alignedBuffer: (size, align) => b.alignedBuffer!(size, align) } : null)),
);

/** The addon's running digest, or null without the addon (or with `SKIFF_NATIVE_HASH=off`). */
export const nativeHashBinding = switchable(
  'SKIFF_NATIVE_HASH',
  addonFeature<HashBinding>((b) => (b.hashCreate && b.hashUpdate && b.hashPeek && b.hashFree ? (b as HashBinding) : null)),
);

/** The addon's socket reads (http/node-socket-body.ts), or null without them (or with `SKIFF_SOCKET_BODY=off`). */
export const nativeSocketRecv = switchable(
  'SKIFF_SOCKET_BODY',
  addonFeature<SocketRecv>((b) => (b.recv && b.recvCancel ? (b as SocketRecv) : null)),
);

/** A feature of the addon, picked from it once (the first caller's environment decides). */
function addonFeature<T>(pick: (b: SendfileBinding) => T | null): (env?: NodeJS.ProcessEnv) => T | null {
  let cached: T | null | undefined;
  return (env = process.env) => {
    if (cached === undefined) {
      const b = addon(env);
      cached = b ? pick(b) : null;
    }
    return cached;
  };
}

/** `feature`, unless the environment variable `name` says `off`. */
function switchable<T>(name: string, feature: (env?: NodeJS.ProcessEnv) => T | null): (env?: NodeJS.ProcessEnv) => T | null {
  return (env = process.env) => (env[name]?.trim().toLowerCase() === 'off' ? null : feature(env));
}

/**
 * The addon for its calls other than downloads: found whatever SKIFF_SENDFILE says (that switch
 * is about downloads), where SKIFF_SENDFILE_BINARY says, and from the load the downloads
 * already made when there was one.
 */
function addon(env: NodeJS.ProcessEnv): SendfileBinding | undefined {
  const load = (!env.SKIFF_SENDFILE_BINARY && sendfileCached) || loadSendfileNow(env);
  return load.ok ? load.binding : undefined;
}

function loadSendfileNow(env: NodeJS.ProcessEnv): SendfileLoad {
  if (process.platform !== 'linux') return { ok: false, reason: `sendfile(2) is used on Linux only, not ${process.platform}` };
  // This module is src/platform/native.ts, dist/skiff.mjs or a chunk in dist/skiff-chunks/.
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = env.SKIFF_SENDFILE_BINARY ? [env.SKIFF_SENDFILE_BINARY] : [join(here, '..', SENDFILE_BINARY), join(here, '..', '..', SENDFILE_BINARY)];
  const path = candidates.find((c) => existsSync(c));
  if (!path) return { ok: false, reason: `${SENDFILE_BINARY} is not built (npm ci builds it; node scripts/build-native.mjs does it by hand)` };
  try {
    return { ok: true, binding: requireNative(path) as SendfileBinding, path };
  } catch (err) {
    return { ok: false, reason: `${path} could not be loaded: ${(err as Error).message}` };
  }
}
