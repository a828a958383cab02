/**
 * The uWebSockets.js engine: the only code that touches uWS request and
 * response objects.
 *
 * uWS rules this file lives by (uWebSockets.js user manual):
 * - `req` is stack-allocated: everything is read from it synchronously, before
 *   the first await.
 * - `res.onAborted` is registered first; after an abort `res` must not be
 *   touched (uWS throws), so every write checks `state.aborted`.
 * - `onData` chunks are neutered when the callback returns: BodyQueue copies.
 * - Writes after an await are wrapped in `res.cork`.
 * - HEAD: we write the handler's Content-Length ourselves and call
 *   `endWithoutBody()` without an argument. Measured on this build:
 *   `endWithoutBody(n)` leaves the response "pending" (uWS waits for n body
 *   bytes), so the next request on that keep-alive connection closes it.
 */
import { LazyAbort } from './lazy-abort.ts';
import type { HttpServer, RequestContext, ServerOptions, TlsOptions } from './types.ts';
import type { UwsApp, UwsListenSocket, UwsModule, UwsResponse } from '../platform/native.ts';
import { BodyQueue } from './body-queue.ts';
import { createContext, createDispatcher, errorReply, isStreamBody, requestIdFrom, safely, toWireReply, type CapturedRequest, type WireReply } from './dispatch.ts';
import { uwsParserRejection, UWS_MAX_CONTENT_LENGTH } from './uws-limits.ts';
import { writeUwsReply, type ResponseState } from './uws-stream.ts';
import { abortError, emptyBody, waitForDrain, type InFlight } from './lifecycle.ts';
import { watchFiles, type FileWatch } from '../platform/watched-files.ts';

/** Start a uWS server. Resolves once listening. */
export async function startUwsServer(uws: UwsModule, opts: ServerOptions): Promise<HttpServer> {
  const hooks = opts.hooks ?? {};
  const dispatch = createDispatcher(opts.routes, hooks);
  const secure = opts.tls !== undefined;
  let app = createApp(uws, opts.tls);
  const inflight: InFlight = { count: 0, onIdle: undefined };

  const onRequest: Parameters<UwsApp['any']>[1] = (res, req) => {
    const started = performance.now();
    const state: ResponseState = { aborted: false, finished: false };
    const controller = new LazyAbort();
    let queue: BodyQueue | undefined;
    res.onAborted(() => {
      state.aborted = true;
      const reason = abortError();
      controller.abort(reason);
      queue?.fail(reason);
      state.onAbort?.();
    });

    // Capture everything from `req` now: it is invalid after this callback.
    const headers: Record<string, string> = {};
    req.forEach((k, v) => {
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    });
    const captured: CapturedRequest = {
      method: req.getMethod().toUpperCase(),
      path: req.getUrl(),
      rawQuery: req.getQuery() ?? '', // undefined when the URL has no `?`
      headers,
      remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(),
      secure,
    };
    const id = requestIdFrom(headers['x-request-id']);

    const rejection = uwsParserRejection(headers);
    if (rejection) {
      // uWS closes this socket right after we return (see uws-limits.ts); answer now.
      state.finished = true;
      res.writeStatus(rejection.statusLine).writeHeader('Content-Type', rejection.contentType).writeHeader('X-Request-Id', id);
      res.end(rejection.body, true);
      const ctx = createContext(captured, id, controller, { body: emptyBody, received: () => 0 });
      safely(() => hooks.onComplete?.(ctx, { status: rejection.status, route: 'engine-limit', durationMs: performance.now() - started, aborted: false, bytesSent: 0 }));
      return;
    }

    if (headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0') {
      const q = new BodyQueue({
        pause: () => state.aborted || state.finished || res.pause(),
        resume: () => state.aborted || state.finished || res.resume(),
      });
      res.onData((chunk, isLast) => q.push(chunk, isLast));
      queue = q;
    }
    const ctx = createContext(captured, id, controller, {
      body: (opts) => (queue ? queue.iterate(opts?.lend) : emptyBody()),
      received: () => queue?.received ?? 0,
    });

    inflight.count++;
    void serve(res, state, ctx, captured.method, queue, started);
  };

  // One async function per request with its own try/finally (a `.catch().finally()` chain
  // cost two more promises per request).
  const serve = async (res: UwsResponse, state: ResponseState, ctx: RequestContext, method: string, queue: BodyQueue | undefined, started: number) => {
    try {
      const { reply, routeName } = await dispatch(ctx);
      let status = reply.status;
      let bytesSent = 0;
      if (!state.aborted) {
        let wire: WireReply;
        try {
          wire = toWireReply(method, reply, ctx.id);
        } catch (err) {
          safely(() => hooks.onUnexpectedError?.(ctx, err));
          wire = toWireReply(method, errorReply(err), ctx.id);
        }
        status = wire.status;
        // An unread body must not leave the socket paused: discard the rest so
        // the connection reaches its next request (keep-alive survives).
        if (queue && !queue.complete) queue.discard();
        const sent = writeUwsReply(res, state, wire, method, ctx.id, (err) => safely(() => hooks.onUnexpectedError?.(ctx, err)));
        // Buffered replies are written synchronously: no extra turn of the microtask queue.
        bytesSent = typeof sent === 'number' ? sent : await sent;
      } else if (isStreamBody(reply.body)) {
        reply.body.stream.destroy?.();
      }
      safely(() => hooks.onComplete?.(ctx, { status, route: routeName, durationMs: performance.now() - started, aborted: state.aborted, bytesSent }));
    } catch (err) {
      safely(() => hooks.onUnexpectedError?.(ctx, err));
      // A bug past the dispatcher: free the client rather than leave it waiting.
      if (!state.aborted && !state.finished) {
        state.finished = true;
        res.close();
      }
    } finally {
      if (--inflight.count === 0) inflight.onIdle?.();
    }
  };
  app.any('/*', onRequest);

  let listenSocket = await listen(uws, app, opts.address, opts.port, opts.tls !== undefined).catch((err: unknown) => {
    app.close?.();
    throw err;
  });
  const port = uws.us_socket_local_port(listenSocket as never);
  // Apps replaced by a certificate reload keep serving their open connections until close.
  const retired: UwsApp[] = [];
  let listening = true;
  let closing: Promise<void> | undefined;
  const tlsWatch = opts.tls ? watchCertificates(opts.tls, () => {
    // uWS cannot swap an SSL context in place: build an app with the new certificate
    // (which validates it), then hand the port over in one synchronous step (listen is
    // synchronous in uWS). Established connections stay on the old app, untouched.
    if (closing) return;
    let next: UwsApp;
    try {
      next = createApp(uws, opts.tls);
    } catch (err) {
      safely(() => hooks.onTlsReload?.({ ok: false, engine: 'uws', error: (err as Error).message }));
      return;
    }
    next.any('/*', onRequest);
    uws.us_listen_socket_close(listenSocket);
    listening = false;
    let taken: UwsListenSocket | false = false;
    // Measured: an exclusive listen (no SO_REUSEADDR) cannot re-bind while accepted
    // connections still use the port, so the hand-over binds with uSockets' defaults.
    const listenNow = (a: UwsApp) =>
      (a.listen as unknown as (h: string, p: number, o: number, cb: (s: UwsListenSocket | false) => void) => void)(opts.address, port, 0, (s) => (taken = s));
    listenNow(next);
    if (taken) {
      retired.push(app);
      app = next;
      listenSocket = taken;
      listening = true;
      safely(() => hooks.onTlsReload?.({ ok: true, engine: 'uws' }));
      return;
    }
    // The port could not be re-bound (should not happen): keep serving the old certificate.
    next.close?.();
    listenNow(app);
    if (taken) (listenSocket = taken), (listening = true);
    safely(() => hooks.onTlsReload?.({ ok: false, engine: 'uws', error: `could not re-bind port ${port} with the new certificate${taken ? '' : ' nor the old one'}` }));
  }) : undefined;
  return {
    engine: 'uws',
    port,
    maxRequestContentLength: UWS_MAX_CONTENT_LENGTH,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        tlsWatch?.close();
        if (listening) uws.us_listen_socket_close(listenSocket);
        await waitForDrain(inflight, graceMs);
        // Closes idle keep-alive sockets too; without it they keep the process alive.
        for (const a of [...retired, app]) a.close?.();
      })();
      return closing;
    },
  };
}

/** Watches the certificate files of `tls`, debounced (a renewal writes cert and key separately). */
function watchCertificates(tls: TlsOptions, onChange: () => void): FileWatch {
  return watchFiles([tls.cert, tls.key, ...(tls.cacert ? [tls.cacert] : [])], onChange, 300);
}


function createApp(uws: UwsModule, tls: TlsOptions | undefined): UwsApp {
  if (!tls) return uws.App() as UwsApp;
  try {
    return uws.SSLApp({
      cert_file_name: tls.cert,
      key_file_name: tls.key,
      ...(tls.cacert ? { ca_file_name: tls.cacert } : {}),
    }) as UwsApp;
  } catch (err) {
    // uWS only says "App construction failed"; name the inputs.
    throw new Error(`uWS could not load TLS material (cert=${tls.cert}, key=${tls.key}${tls.cacert ? `, cacert=${tls.cacert}` : ''}): ${(err as Error).message}`);
  }
}

/**
 * Listens on address:port. `rebindable` (TLS, whose certificate reload re-binds the port
 * while connections are open) needs SO_REUSEADDR, which uSockets sets only together with
 * SO_REUSEPORT; the port is then first probed with an exclusive node:net bind, so a port
 * already in use still fails loudly (a later instance fails on our socket the same way).
 */
async function listen(uws: UwsModule, app: UwsApp, address: string, wanted: number, rebindable = false): Promise<UwsListenSocket> {
  // uSockets sets no reuse options at all for port 0: pick the free port here instead.
  const port = rebindable ? await probeFree(address, wanted) : wanted;
  return new Promise((resolve, reject) => {
    // EXCLUSIVE_PORT: by default uSockets sets SO_REUSEPORT, so a second
    // instance on the same port would silently share traffic instead of failing.
    const options = rebindable ? 0 : (uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT;
    const onListen = (socket: UwsListenSocket | false) =>
      socket ? resolve(socket) : reject(new Error(`uWS could not listen on ${address}:${port} (address in use or not available)`));
    (app.listen as unknown as (h: string, p: number, o: number, cb: typeof onListen) => void)(address, port, options, onListen);
  });
}

/** The port (a free one for 0); rejects when address:port cannot be bound exclusively. */
async function probeFree(address: string, port: number): Promise<number> {
  // Loaded here: plain uWS listeners never need node:net.
  const { createServer: createNetServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', (err) => reject(new Error(`uWS could not listen on ${address}:${port}: ${(err as Error).message}`)));
    probe.listen({ host: address, port, exclusive: true }, () => {
      const bound = (probe.address() as { port: number }).port;
      probe.close(() => resolve(bound));
    });
  });
}
