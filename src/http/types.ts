/**
 * The HTTP contract between the engine adapters (uWebSockets.js, node:http) and
 * the handlers in `api/` and extensions. Nothing here exposes an engine type.
 */
import type { FileSender, SendResult } from '../platform/native.ts';

/** A request, captured synchronously from the engine before any await. */
export interface RequestContext {
  /** Upper-case method, e.g. `GET`. */
  readonly method: string;
  /** The URL path exactly as sent, without the query string, still percent-encoded. */
  readonly path: string;
  /** The raw query string without the leading `?` (may be empty). */
  readonly rawQuery: string;
  /** Parsed query; repeated keys (e.g. `?tag=a&tag=b`) are kept via `getAll`. */
  readonly query: URLSearchParams;
  /** Request headers with lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** Remote peer address as text. */
  readonly remoteAddress: string;
  /** Request id for logs (also echoed as `X-Request-Id`). */
  readonly id: string;
  /** Aborted when the client goes away before the response is complete. */
  readonly signal: AbortSignal;
  /** True when the connection is TLS. */
  readonly secure: boolean;
  /**
   * The client certificate of an mTLS connection, verified against `http.tls.cacert`.
   * Set by the node engine only: uWS.js (v20.30) has no API to read a peer certificate,
   * so the server runs node:https whenever a CA is configured.
   */
  readonly peerCertificate?: PeerCertificate;
  /** Who made the request, once authenticated (set by api/guard.ts; read by the audit log). */
  identity?: { name: string; groups: readonly string[] };
  /** Named captures of the matched route (percent-decoded is NOT applied). */
  params: Record<string, string>;
  /**
   * The request body as a stream of chunks, readable once. Chunks are owned by the
   * consumer (already copied out of engine memory), unless `lend` is asked for: then
   * each chunk is valid only until the consumer asks for the next one (or stops), and
   * the engine may reuse its memory. The engine pauses the socket while the consumer
   * lags (backpressure). Ends early with an error when the client aborts. Empty for
   * requests without a body.
   */
  body(opts?: BodyOptions): AsyncIterable<Buffer>;
  /** Bytes of body received so far (for logging/metrics). */
  bodyBytesReceived(): number;
}

/** How a consumer reads a request body. */
export interface BodyOptions {
  /** The consumer is done with a chunk before it asks for the next (see RequestContext.body). */
  readonly lend?: boolean;
}

/** A verified client certificate's identity fields (no engine type leaks through). */
export interface PeerCertificate {
  /** Subject attributes, e.g. `{CN: 'alice', O: 'acme'}`. */
  readonly subject: Readonly<Record<string, string>>;
  /** The subject as text, e.g. `CN=alice,O=acme`. */
  readonly subjectText: string;
  readonly dnsNames: readonly string[];
  readonly emails: readonly string[];
  readonly uris: readonly string[];
}

/**
 * A streamed response body with a known total length. A source that offers `readInto`
 * (fill this buffer, resolve the count, 0 at the end) lets the engine reuse one buffer
 * for the whole response instead of receiving a new one per chunk.
 */
export interface StreamBody {
  readonly stream: AsyncIterable<Buffer> & {
    destroy?(err?: Error): void;
    readInto?(target: Buffer): Promise<number>;
    /** Offset of the next unread byte in the underlying content (with `skip`: see `shareKey`). */
    readonly position?: number;
    /** Passes over the next `n` bytes without reading them. */
    skip?(n: number): void;
    /**
     * Reads bytes at offset `at` (a `position` value already passed) again without moving
     * `position`, after `keepOpen`: a response re-reads what its socket did not take
     * rather than keep a copy while the client is slow.
     */
    readAt?(target: Buffer, at: number): Promise<number>;
    /** The source stays readable by `readAt` past its end, until `destroy`. */
    keepOpen?(): void;
    /**
     * Hands the next bytes (up to `max`) to `send` as a file descriptor and position, for
     * sendfile(2); advances by what `send` moved. Not mixed with reads in flight.
     */
    sendWith?(send: FileSender, max: number): Promise<SendResult>;
  };
  readonly length: number;
  /**
   * Names content whose bytes at a given offset are the same for every body with this key
   * (a blob's digest). Concurrent downloads of it then share each chunk read: one file read
   * is sent to every client at that offset (needs `readInto`, `position` and `skip`).
   */
  readonly shareKey?: string;
}

/** What a handler returns; the engine writes it (corked, with backpressure). */
export interface Reply {
  status: number;
  headers?: Record<string, string | number | readonly string[]>;
  /**
   * Omitted for no body. For HEAD the engine never writes a body but keeps the
   * `Content-Length` header the handler set (it must describe the GET body).
   */
  body?: string | Buffer | StreamBody;
}

/** A request handler. Throwing a RegistryError produces the OCI error envelope. */
export type Handler = (ctx: RequestContext) => Promise<Reply> | Reply;

/** One route, as data. `pattern` is matched against the raw path. */
export interface Route {
  /** Methods this route answers; `HEAD` is never implied by `GET`. */
  readonly methods: readonly string[];
  /** Anchored regular expression; named groups become `ctx.params`. */
  readonly pattern: RegExp;
  readonly handler: Handler;
  /** Stable name for logs and metrics, e.g. `manifest`. */
  readonly name: string;
}

/** Hooks the app gives the engine: logging, and a wrapper for every request. */
export interface ServerHooks {
  /** Called once per completed (or aborted) request. */
  onComplete?(ctx: RequestContext, info: { status: number; route: string; durationMs: number; aborted: boolean; bytesSent: number }): void;
  /** Called for a handler error that was not a RegistryError. */
  onUnexpectedError?(ctx: RequestContext, err: unknown): void;
  /** Called after the TLS certificate files changed on disk: reloaded, or why not. */
  onTlsReload?(result: { ok: true; engine: 'node' | 'uws' } | { ok: false; engine: 'node' | 'uws'; error: string }): void;
}

/** TLS material for the listener (paths, as in zot's `http.tls`). */
export interface TlsOptions {
  cert: string;
  key: string;
  cacert?: string;
}

/** Options to start a server. */
export interface ServerOptions {
  address: string;
  port: number;
  routes: readonly Route[];
  hooks?: ServerHooks;
  tls?: TlsOptions;
  /** Force an engine; default picks uWS when a matching binary exists. */
  engine?: 'uws' | 'node';
}

/** A running server. */
export interface HttpServer {
  readonly engine: 'uws' | 'node';
  /** The bound port (useful with port 0). */
  readonly port: number;
  /**
   * Largest request `Content-Length` the engine can receive, when it has a
   * limit (the bundled uWS build: 999,999,999; see http/LIMITS.md). Larger
   * bodies must arrive in chunks or with `Transfer-Encoding: chunked`.
   */
  readonly maxRequestContentLength?: number;
  /** Set when uWS was wanted but unavailable and node:http runs instead: why. */
  readonly fallbackReason?: string;
  /**
   * How blob downloads leave: `sendfile` (node:http on plain TCP, with the addon), or
   * `copy` (through user space: uWS, TLS, or the addon missing; see `copyReason`).
   */
  readonly downloads?: 'sendfile' | 'copy';
  /** Why downloads copy on node:http over plain TCP (the addon is not built or is turned off). */
  readonly copyReason?: string;
  /** Stop accepting, let in-flight requests finish up to `graceMs`, then close. */
  close(graceMs?: number): Promise<void>;
}
