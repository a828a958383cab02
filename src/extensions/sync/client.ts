/**
 * The HTTP client of one upstream URL, over undici: its own connection pool with the
 * registry entry's TLS settings (`tlsVerify`, `certDir`), redirects followed (blob
 * downloads are often redirected to object storage, and undici drops Authorization when
 * a redirect leaves the origin), authentication (auth.ts), and retries of transient
 * failures with exponential backoff (`maxRetries`, `retryDelay`, `maxRetryDelay`).
 */
import { Agent, type Dispatcher, interceptors, request } from 'undici';
import type { CertDirMaterial } from '../../platform/upstream-files.ts';
import { UpstreamAuth } from './auth.ts';
import { pinnedLookup, type HostPins } from './pins.ts';
import { UpstreamError } from './errors.ts';
import { backoff, sleep } from './util.ts';

export interface ClientOptions {
  base: URL;
  tlsVerify: boolean;
  tls: CertDirMaterial;
  creds?: { username: string; password: string };
  /** Retries of a failed request (network error, 429, 5xx). */
  maxRetries: number;
  retryDelay: number;
  maxRetryDelay: number;
  /** Hosts connected to at a fixed address (`SKIFF_SYNC_RESOLVE`). */
  pins?: HostPins;
}

/** How long a request may wait for response headers. */
export interface SendOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Overall deadline for getting the headers (probes use the short upstreamTimeout). */
  timeoutMs: number;
  /** Retry transient failures (off for probes: a failed probe means "serve the local copy"). */
  retry: boolean;
}

export type Response = Dispatcher.ResponseData;

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
/** Between bytes of a body; a stalled download is cut and resumed (blob.ts). */
const BODY_IDLE_MS = 60_000;

export class RegistryClient {
  readonly auth: UpstreamAuth;
  private readonly dispatcher: Dispatcher;
  private readonly agent: Agent;
  /** Requests sent (tests and benchmarks read it). */
  requests = 0;

  constructor(private readonly opts: ClientOptions) {
    this.agent = new Agent({
      connect: {
        rejectUnauthorized: opts.tlsVerify,
        ...opts.tls,
        timeout: 10_000,
        ...(opts.pins && opts.pins.size > 0 ? { lookup: pinnedLookup(opts.pins) } : {}),
      },
      keepAliveTimeout: 30_000,
      bodyTimeout: BODY_IDLE_MS,
    });
    this.dispatcher = this.agent.compose(interceptors.redirect({ maxRedirections: 5 }));
    this.auth = new UpstreamAuth(opts.creds, async (url, headers) => {
      const res = await request(url, { headers, dispatcher: this.dispatcher, signal: AbortSignal.timeout(30_000) });
      return { status: res.statusCode, json: () => res.body.json() };
    });
  }

  /** Sends one request (path and query relative to the base URL); the caller owns the body. */
  async send(path: string, o: SendOptions): Promise<Response> {
    const url = new URL(path, this.opts.base);
    let authRetried = false;
    for (let attempt = 0; ; attempt++) {
      // A deadline for the headers only: once they are in, the body may take as long as it
      // needs (bounded by the caller's signal, i.e. syncTimeout, and the idle timeout).
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(new Error('timeout')), o.timeoutMs);
      const signal = o.signal ? AbortSignal.any([o.signal, deadline.signal]) : deadline.signal;
      let res: Response;
      try {
        const authorization = await this.auth.header(url.pathname);
        const headers = { 'user-agent': 'skiff-sync', ...o.headers, ...(authorization ? { authorization } : {}) };
        this.requests++;
        res = await request(url, { method: o.method ?? 'GET', headers, dispatcher: this.dispatcher, signal, headersTimeout: o.timeoutMs });
      } catch (err) {
        if (o.signal?.aborted) throw o.signal.reason;
        const why = deadline.signal.aborted ? `no answer within ${o.timeoutMs} ms` : (err as Error).message;
        if (o.retry && attempt < this.opts.maxRetries) {
          await sleep(backoff(attempt, this.opts.retryDelay, this.opts.maxRetryDelay), o.signal);
          continue;
        }
        throw new UpstreamError('unreachable', `${url.host}: ${why}`);
      } finally {
        clearTimeout(timer);
      }
      if (res.statusCode === 401 && !authRetried) {
        await res.body.dump();
        authRetried = true;
        const header = res.headers['www-authenticate'];
        if (await this.auth.challenged(url.pathname, Array.isArray(header) ? header[0] : header)) {
          attempt--;
          continue;
        }
        throw new UpstreamError('denied', `${url.host}${url.pathname}: 401 and no usable credentials`, 401);
      }
      if (RETRY_STATUS.has(res.statusCode)) {
        await res.body.dump();
        if (o.retry && attempt < this.opts.maxRetries) {
          await sleep(backoff(attempt, this.opts.retryDelay, this.opts.maxRetryDelay), o.signal);
          continue;
        }
        throw new UpstreamError('unreachable', `${url.host}${url.pathname}: HTTP ${res.statusCode}`, res.statusCode);
      }
      return res;
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** The first value of a response header. */
export function header(res: Response, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
