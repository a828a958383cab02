/**
 * The engine-neutral half of serving a request: build the RequestContext,
 * route, run the handler, map errors to the OCI envelope, and turn a Reply
 * into wire form. Both engines (uws.ts, node.ts) call into this, so status
 * codes, headers and error bodies cannot drift between them.
 */
import type { LazyAbort } from './lazy-abort.ts';
import { randomBytes } from 'node:crypto';
import { RegistryError, toErrorResponse } from '../errors/index.ts';
import { noteRequest } from '../platform/memory-trim.ts';
import { compileRoutes } from './router.ts';
import { statusLine as statusLineOf } from './status.ts';
import type { BodyOptions, PeerCertificate, Reply, RequestContext, Route, ServerHooks, StreamBody } from './types.ts';

/** What an engine reads from its request object before the first await. */
export interface CapturedRequest {
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly remoteAddress: string;
  readonly secure: boolean;
  /** A verified client certificate (node:https with a CA only). */
  readonly peerCertificate?: PeerCertificate;
}

/** Body access the engine provides to the context. */
export interface BodySource {
  body(opts?: BodyOptions): AsyncIterable<Buffer>;
  received(): number;
}

/** The handler's reply plus the route name, for logs. */
export interface Outcome {
  readonly reply: Reply;
  readonly routeName: string;
}

/** Route names used in logs for requests that matched no route. */
export const UNMATCHED_ROUTE = '(unmatched)';

/** True when a reply body is a StreamBody. */
export function isStreamBody(body: Reply['body']): body is StreamBody {
  return typeof body === 'object' && body !== null && !Buffer.isBuffer(body) && 'stream' in body;
}

// A per-process prefix keeps generated ids unique across restarts without the
// cost of a random UUID per request.
const ID_PREFIX = randomBytes(4).toString('hex');
let idCounter = 0;
const CLIENT_ID = /^[\w.:@/+=-]{1,128}$/;

/** The client's `X-Request-Id` when it is short and harmless, else a fresh one. */
export function requestIdFrom(header: string | undefined): string {
  if (header !== undefined && CLIENT_ID.test(header)) return header;
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${ID_PREFIX}-${idCounter.toString(36)}`;
}

/**
 * The RequestContext handlers see. A class, not an object literal: every context shares
 * one shape and its getters live on the prototype (a literal with getters and a spread
 * cost ~3 µs per request in profiles of manifest HEAD). `query` is parsed on first use.
 */
class Context implements RequestContext {
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly remoteAddress: string;
  readonly id: string;
  readonly secure: boolean;
  readonly peerCertificate: CapturedRequest['peerCertificate'];
  identity: RequestContext['identity'] = undefined;
  params: Record<string, string> = {};
  #query: URLSearchParams | undefined = undefined;
  readonly #abort: LazyAbort;
  readonly #source: BodySource;

  constructor(req: CapturedRequest, id: string, abort: LazyAbort, source: BodySource) {
    this.method = req.method;
    this.path = req.path;
    this.rawQuery = req.rawQuery;
    this.headers = req.headers;
    this.remoteAddress = req.remoteAddress;
    this.id = id;
    this.secure = req.secure;
    this.peerCertificate = req.peerCertificate;
    this.#abort = abort;
    this.#source = source;
  }

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.rawQuery));
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  body(opts?: BodyOptions): AsyncIterable<Buffer> {
    return this.#source.body(opts);
  }

  bodyBytesReceived(): number {
    return this.#source.received();
  }
}

/** Build the RequestContext handlers see. */
export function createContext(req: CapturedRequest, id: string, abort: LazyAbort, source: BodySource): RequestContext {
  return new Context(req, id, abort, source);
}

/**
 * Compile the routes and return the per-request dispatch function. It never
 * throws: every failure becomes a Reply carrying the OCI error envelope.
 */
export function createDispatcher(routes: readonly Route[], hooks: ServerHooks = {}): (ctx: RequestContext) => Promise<Outcome> {
  const router = compileRoutes(routes);
  return async (ctx) => {
    noteRequest();
    const m = router.match(ctx.method, ctx.path);
    if (m.kind === 'not-found') return { reply: errorReply(new RegistryError('NOT_FOUND')), routeName: UNMATCHED_ROUTE };
    if (m.kind === 'method-not-allowed') {
      const err = new RegistryError('METHOD_NOT_ALLOWED', undefined, { headers: { Allow: m.allow.join(', ') } });
      return { reply: errorReply(err), routeName: UNMATCHED_ROUTE };
    }
    ctx.params = m.params;
    try {
      const reply = await m.route.handler(ctx);
      // A handler bug must still produce an answer, not a hung connection.
      if (typeof reply !== 'object' || reply === null || !Number.isInteger(reply.status) || reply.status < 100 || reply.status > 599) {
        throw new Error(`handler for route "${m.route.name}" returned no valid reply`);
      }
      return { reply, routeName: m.route.name };
    } catch (err) {
      const res = toErrorResponse(err);
      // An abort makes handlers throw whatever their stream threw; that is the
      // client leaving, not a server fault worth a stack trace.
      if (res.unexpected && !ctx.signal.aborted) safely(() => hooks.onUnexpectedError?.(ctx, err));
      return { reply: { status: res.status, headers: res.headers, body: res.body }, routeName: m.route.name };
    }
  };
}

/** A Reply carrying the envelope for `err`. */
export function errorReply(err: unknown): Reply {
  const res = toErrorResponse(err);
  return { status: res.status, headers: res.headers, body: res.body };
}

/** Run a hook without letting its failure take the engine down. */
export function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // Hooks are logging; a broken logger must not break serving.
  }
}

/** A Reply in the form both engines write. */
export interface WireReply {
  readonly status: number;
  /** e.g. `201 Created`, as uWS's writeStatus wants it. */
  readonly statusLine: string;
  /** Header lines, minus those the engine owns (Content-Length, Transfer-Encoding, Connection, Date). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Content-Length to announce; undefined for 1xx/204/304. For HEAD it describes the GET body. */
  readonly contentLength: number | undefined;
  /** Bytes to send: undefined when nothing is sent (HEAD, 204, 304, or no body). */
  readonly body: Buffer | StreamBody | undefined;
  /** True for HEAD: Content-Length is announced but no body is sent. */
  readonly isHead: boolean;
  /** A StreamBody that must be destroyed unsent (HEAD or a bodyless status). */
  readonly discard: StreamBody | undefined;
}

const ENGINE_OWNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);
const UNSAFE_VALUE = /[\r\n\0]/;

/** A handler's Content-Length header as a byte count, or undefined when it is not one. */
function lengthOf(raw: unknown): number | undefined {
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Normalise a Reply. Throws on a header value with CR/LF (response splitting:
 * uWS writes header bytes verbatim), which the caller turns into a 500.
 */
export function toWireReply(method: string, reply: Reply, requestId: string): WireReply {
  const status = reply.status;
  const headers: Array<readonly [string, string]> = [];
  let declaredLength: number | undefined;
  const given = reply.headers;
  // for-in over the handler's own object: Object.entries plus an array per value was ~3 µs
  // of a ~50 µs manifest HEAD.
  for (const name in given) {
    const raw = given[name];
    if (raw === undefined) continue;
    const many = Array.isArray(raw) ? (raw as readonly string[]) : undefined;
    const first = many ? many[0] : typeof raw === 'string' ? raw : String(raw);
    if (UNSAFE_VALUE.test(name) || (many ? many.some((v) => UNSAFE_VALUE.test(v)) : UNSAFE_VALUE.test(first!))) {
      throw new Error(`unsafe characters in response header ${name}`);
    }
    const lower = name.toLowerCase();
    if (lower === 'content-length') declaredLength = lengthOf(first);
    else if (!ENGINE_OWNED.has(lower) && lower !== 'x-request-id') {
      if (many) for (const v of many) headers.push([name, v]);
      else headers.push([name, first!]);
    }
  }
  headers.push(['X-Request-Id', requestId]);

  const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
  const bodyLength = body === undefined ? 0 : Buffer.isBuffer(body) ? body.length : body.length;
  const noContent = status === 204 || status === 304 || status < 200;
  const isHead = method === 'HEAD';
  const statusLine = statusLineOf(status);
  const discard = isStreamBody(body) && (isHead || noContent || body.length === 0) ? body : undefined;
  if (noContent) return { status, statusLine, headers, contentLength: undefined, body: undefined, isHead, discard };
  // HEAD: the handler's Content-Length describes the GET body (RFC 9110 §9.3.2).
  if (isHead) return { status, statusLine, headers, contentLength: declaredLength ?? bodyLength, body: undefined, isHead, discard };
  return { status, statusLine, headers, contentLength: bodyLength, body: bodyLength === 0 ? undefined : body, isHead, discard };
}
