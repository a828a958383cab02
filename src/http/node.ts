/**
 * The node:http / node:https engine: the same contract as uws.ts, used when no
 * uWS binary matches this Node (e.g. Node 22) or when forced with
 * SKIFF_HTTP_ENGINE=node. Slower, but with no Content-Length limit.
 *
 * Backpressure: request bodies are pulled from `req` through its async
 * iterator (node reads the socket only as fast as we consume); response
 * streams wait for 'drain' whenever `res.write` reports a full buffer.
 */
import { LazyAbort } from './lazy-abort.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { peerCertificateOf } from './peer-cert.ts';
import type { BodyOptions, HttpServer, RequestContext, ServerOptions } from './types.ts';
import { readTlsMaterial } from '../platform/tls.ts';
import { watchFiles, type FileWatch } from '../platform/watched-files.ts';
import { createContext, createDispatcher, errorReply, isStreamBody, requestIdFrom, safely, toWireReply, type BodySource, type CapturedRequest, type WireReply } from './dispatch.ts';
import { abortError, waitForDrain, type InFlight } from './lifecycle.ts';
import { streamToNode } from './node-stream.ts';
import { requestBody } from './node-body.ts';
import { socketBody, type SocketBody } from './node-socket-body.ts';
import { loadSendfile, nativeSocketRecv, type SendfileBinding, type SocketRecv } from '../platform/native.ts';

/** Start a node:http(s) server. Resolves once listening. */
export async function startNodeServer(opts: ServerOptions): Promise<HttpServer> {
  const hooks = opts.hooks ?? {};
  const dispatch = createDispatcher(opts.routes, hooks);
  const secure = opts.tls !== undefined;
  const inflight: InFlight = { count: 0, onIdle: undefined };
  // Loaded at start, not at the first download, so the start log says how downloads leave.
  const sendfile = secure ? undefined : loadSendfile();
  const sender = sendfile?.ok ? sendfile.binding : undefined;
  // Large bodies of known length are read from the socket directly (node-socket-body.ts);
  // whatever SKIFF_SENDFILE says, which is about downloads.
  const recv = secure ? null : nativeSocketRecv();

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const controller = new LazyAbort();
    // 'close' before the response finished means the client went away. (`on`, not `once`:
    // it fires once anyway, and `once` allocates a wrapper per request.)
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(abortError());
    });
    const captured = capture(req, secure);
    const id = requestIdFrom(captured.headers['x-request-id']);
    const source = new NodeBodySource(req, res, recv);
    const ctx = createContext(captured, id, controller, source);
    inflight.count++;
    void serve(req, res, ctx, source, captured.method, controller, started);
  };

  // One async function per request with its own try/finally: a `.catch().finally()` chain
  // on top cost two more promises per request.
  const serve = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext, source: NodeBodySource, method: string, controller: LazyAbort, started: number) => {
    try {
      const { reply, routeName } = await dispatch(ctx);
      let wire: WireReply;
      try {
        wire = toWireReply(method, reply, ctx.id);
      } catch (err) {
        safely(() => hooks.onUnexpectedError?.(ctx, err));
        wire = toWireReply(method, errorReply(err), ctx.id);
      }
      // Drain an unread body so the parser reaches the next request (or, read from the socket
      // directly, so the client reads the reply rather than a reset).
      const dropping = source.dropUnread();
      if (dropping) await dropping;
      if (!req.complete) req.resume();
      let bytesSent = 0;
      if (!controller.aborted) {
        const sent = writeReply(res, wire, method, ctx.id, (e) => safely(() => hooks.onUnexpectedError?.(ctx, e)), sender);
        // Buffered replies are written synchronously: no extra turn of the microtask queue.
        bytesSent = typeof sent === 'number' ? sent : await sent;
      } else if (isStreamBody(reply.body)) {
        reply.body.stream.destroy?.();
      }
      safely(() => hooks.onComplete?.(ctx, { status: wire.status, route: routeName, durationMs: performance.now() - started, aborted: controller.aborted, bytesSent }));
    } catch (err) {
      safely(() => hooks.onUnexpectedError?.(ctx, err));
      res.destroy();
    } finally {
      if (--inflight.count === 0) inflight.onIdle?.();
    }
  };

  // node:https (and node:tls) load only for a TLS listener, and node:http only for this
  // engine: a uWS process never needs them (node:http alone is ~0.2 MiB of heap, measured).
  // require, not import(): a builtin loads at once, without a turn of the event loop.
  const https = opts.tls ? await import('node:https') : undefined;
  const server = opts.tls && https
    ? https.createServer({ ...(await tlsOptions(opts.tls)) }, onRequest)
    : (createRequire(import.meta.url)('node:http') as typeof import('node:http')).createServer(onRequest);
  // Node's 5-minute requestTimeout would cut off a multi-gigabyte push on a
  // slow link; uploads are bounded by the storage layer, not by a clock.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 10_000; // like uWS's idle timeout

  // Certificates are re-read when their files change (zot v2.1.15): new handshakes use the
  // new material at once, established connections keep theirs; nothing is dropped. A
  // half-written or mismatched pair is reported and the previous one stays in use.
  let tlsWatch: FileWatch | undefined;
  const tls = opts.tls;
  if (tls && https && server instanceof https.Server) {
    const files = [tls.cert, tls.key, ...(tls.cacert ? [tls.cacert] : [])];
    tlsWatch = watchFiles(files, () => {
      tlsOptions(tls)
        .then((o) => server.setSecureContext(o)) // throws on a key that does not match the certificate
        .then(
          () => safely(() => hooks.onTlsReload?.({ ok: true, engine: 'node' })),
          (err: unknown) => safely(() => hooks.onTlsReload?.({ ok: false, engine: 'node', error: (err as Error).message })),
        );
    }, 300);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.address, port: opts.port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  let closing: Promise<void> | undefined;
  return {
    engine: 'node',
    downloads: sendfile?.ok ? 'sendfile' : 'copy',
    ...(sendfile && !sendfile.ok ? { copyReason: sendfile.reason } : {}),
    port: typeof address === 'object' && address ? address.port : opts.port,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        tlsWatch?.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await waitForDrain(inflight, graceMs);
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

async function tlsOptions(tls: NonNullable<ServerOptions['tls']>): Promise<HttpsServerOptions> {
  const m = await readTlsMaterial(tls);
  // With a CA, clients must present a certificate it signed (zot's mTLS behaviour).
  return m.ca ? { cert: m.cert, key: m.key, ca: m.ca, requestCert: true, rejectUnauthorized: true } : { cert: m.cert, key: m.key };
}

/** Read the request line and headers in the same shape uws.ts produces. */
function capture(req: IncomingMessage, secure: boolean): CapturedRequest {
  const headers: Record<string, string> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    const v = raw[i + 1]!;
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  let url = req.url ?? '/';
  if (!url.startsWith('/')) {
    // absolute-form request target (RFC 9112 §3.2.2)
    try {
      const u = new URL(url);
      url = u.pathname + u.search;
    } catch {
      url = '/';
    }
  }
  const q = url.indexOf('?');
  const remote = req.socket.remoteAddress ?? '';
  const peerCertificate = secure ? peerCertificateOf(req.socket as TLSSocket) : undefined;
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: q < 0 ? url : url.slice(0, q),
    rawQuery: q < 0 ? '' : url.slice(q + 1),
    headers,
    // uWS reports IPv4 peers as dotted quads; match it.
    remoteAddress: remote.startsWith('::ffff:') ? remote.slice(7) : remote,
    secure,
    ...(peerCertificate ? { peerCertificate } : {}),
  };
}

/** The request body, readable once (see RequestContext.body). */
class NodeBodySource implements BodySource {
  #taken = false;
  #received = 0;
  #socketBody: SocketBody | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly recv: SocketRecv | null,
  ) {}

  body(opts?: BodyOptions): AsyncIterable<Buffer> {
    if (this.#taken) throw new Error('request body already consumed');
    this.#taken = true;
    const add = (n: number) => (this.#received += n);
    // A large body a consumer lends from: from the socket directly, closing the connection after.
    const direct = opts?.lend ? socketBody(this.req, this.res, this.recv, add) : null;
    this.#socketBody = direct ?? undefined;
    // Otherwise a handler that stops reading early must not kill the keep-alive socket: the
    // rest is discarded after the reply.
    return direct?.chunks ?? requestBody(this.req, add, opts?.lend);
  }

  /** Before the reply: a socket body the handler never read is read and dropped (see SocketBody). */
  dropUnread(): Promise<void> | undefined {
    return this.#socketBody?.dropUnread();
  }

  received(): number {
    return this.#received;
  }
}

/** Write a WireReply. Returns body bytes written: at once for a buffered reply, later for a stream. */
function writeReply(res: ServerResponse, wire: WireReply, method: string, id: string, onError: (err: unknown) => void, sendfile?: SendfileBinding): number | Promise<number> {
  wire.discard?.stream.destroy?.();
  const statusMessage = wire.statusLine.slice(wire.statusLine.indexOf(' ') + 1);
  const body = wire.body;
  if (body === undefined || Buffer.isBuffer(body)) {
    // Headers as one flat list straight into writeHead: measured 83-86 against 90-92 µs per
    // manifest HEAD with a header call each (setHeader or appendHeader).
    const raw: string[] = [];
    for (const [k, v] of wire.headers) raw.push(k, v);
    if (wire.contentLength !== undefined) raw.push('Content-Length', String(wire.contentLength));
    res.writeHead(wire.status, statusMessage, raw);
    res.end(body); // node sends no body for HEAD/204/304 by itself
    return body?.length ?? 0;
  }
  // A streamed body keeps settable headers: a failure before its first byte replaces them.
  res.statusCode = wire.status;
  res.statusMessage = statusMessage;
  for (const [k, v] of wire.headers) res.appendHeader(k, v);
  if (wire.contentLength !== undefined) res.setHeader('Content-Length', wire.contentLength);
  // Fails before the first byte become a proper error reply (without the announced length).
  const replyError = (err: unknown) => {
    res.removeHeader('Content-Length');
    return Promise.resolve(writeReply(res, toWireReply(method, errorReply(err), id), method, id, onError));
  };
  return streamToNode(res, body, onError, replyError, sendfile);
}
