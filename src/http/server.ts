/**
 * Engine selection and startup: uWS for TLS listeners when its binary loads;
 * node:http for plain HTTP, without a uWS binary, with client certificates, or
 * when forced (`ServerOptions.engine` / SKIFF_HTTP_ENGINE).
 * The returned server names its engine so the app can log it loudly: a silent
 * fallback to a slower engine would be invisible until the first big push.
 */
import { chooseHttpEngine, loadUws, requestedEngine, type EngineChoice } from '../platform/native.ts';
import { startNodeServer } from './node.ts';
import type { HttpServer, ServerOptions } from './types.ts';
import { startUwsServer } from './uws.ts';

// Both engines' code is imported statically: a dynamic import() made at this point of the
// start waited for libuv's thread pool behind the start-up reconcile's directory reads
// (measured, first 200 on a store of 10,000 manifests: 228-348 ms with import() here,
// 209-256 ms without). What each engine loads beyond its code (the uWS binary; node:https
// and node:tls) is loaded only when that engine is chosen.

/**
 * Start serving `opts.routes` on `opts.address:opts.port`. Resolves once
 * listening; rejects when the port is taken or the TLS material is unusable.
 */
export async function startServer(opts: ServerOptions): Promise<HttpServer> {
  let choice: EngineChoice;
  if (!opts.tls && !requestedEngine(opts.engine).forcedBy) {
    // Measured (LIMITS.md §2): on a plain-HTTP port uWS never answers a TLS ClientHello,
    // so skopeo, podman and Docker, which try HTTPS first for an insecure registry, stall
    // 10 s on every command. node:http answers at once, as zot does. TLS listeners, where
    // clients speak HTTPS directly, keep uWS; SKIFF_HTTP_ENGINE=uws forces it anyway.
    choice = { engine: 'node', fallbackReason: 'plain HTTP: node:http answers HTTPS probes at once (uWS stalls them 10 s); SKIFF_HTTP_ENGINE=uws forces uWS' };
  } else {
    choice = chooseHttpEngine(opts.engine);
  }
  if (choice.engine === 'uws' && opts.tls?.cacert) {
    // Measured: uWS given ca_file_name lets clients without a certificate
    // in, and it cannot show a certificate to handlers. A CA is configured to
    // require client certificates (zot's mTLS), so fail closed: node:https
    // enforces it.
    if (choice.forcedBy) throw new Error('http.tls.cacert (client certificates) is not supported by the uWS engine; use SKIFF_HTTP_ENGINE=node');
    choice = { engine: 'node', fallbackReason: 'http.tls.cacert is set: client certificates are enforced by node:https only' };
  }
  if (choice.engine === 'uws') {
    const loaded = loadUws();
    // chooseHttpEngine only picks uws after a successful load.
    if (!loaded.ok) throw new Error(`uWS binary vanished after selection: ${loaded.reason}`);
    return startUwsServer(loaded.uws, opts);
  }
  const server = await startNodeServer(opts);
  return choice.fallbackReason ? { ...describe(server), fallbackReason: choice.fallbackReason } : server;
}

/** Copy a server's members onto a plain object (getters would be lost by spread). */
function describe(server: HttpServer): HttpServer {
  return {
    engine: server.engine,
    port: server.port,
    ...(server.maxRequestContentLength !== undefined ? { maxRequestContentLength: server.maxRequestContentLength } : {}),
    ...(server.downloads ? { downloads: server.downloads } : {}),
    ...(server.copyReason ? { copyReason: server.copyReason } : {}),
    close: (graceMs?: number) => server.close(graceMs),
  };
}
