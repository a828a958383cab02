/**
 * Engine selection and startup: uWS when its binary loads, node:http
 * otherwise (or when forced by `ServerOptions.engine` / SKIFF_HTTP_ENGINE).
 * The returned server names its engine so the app can log it loudly: a silent
 * fallback to a slower engine would be invisible until the first big push.
 */
import { chooseHttpEngine, loadUws } from '../platform/native.ts';
import { startNodeServer } from './node.ts';
import type { HttpServer, ServerOptions } from './types.ts';
import { startUwsServer } from './uws.ts';

/**
 * Start serving `opts.routes` on `opts.address:opts.port`. Resolves once
 * listening; rejects when the port is taken or the TLS material is unusable.
 */
export async function startServer(opts: ServerOptions): Promise<HttpServer> {
  let choice = chooseHttpEngine(opts.engine);
  if (choice.engine === 'uws' && opts.tls?.cacert) {
    // Measured: uWS given ca_file_name verifies a client certificate only if
    // one is offered and lets certificate-less clients in, and it cannot show
    // the certificate to handlers. A CA is configured to require client
    // certificates (zot's mTLS), so fail closed: node:https enforces it.
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
    close: (graceMs?: number) => server.close(graceMs),
  };
}
