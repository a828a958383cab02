/**
 * The native facade: the only module that loads code from `native/`.
 *
 * Today that is the uWebSockets.js binary. The choice of file lives in
 * `native/uws.cjs` (see its header for why we never use the package's main
 * entry); this module adds types, caching and the engine decision rule.
 */
import { createRequire } from 'node:module';
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
