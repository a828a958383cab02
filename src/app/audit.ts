import type { Logger } from 'pino';
import type { RequestContext } from '../http/types.ts';
import { redactCredentials } from '../auth/index.ts';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Request logging: one line per request at debug (info for failures), plus zot's audit
 * log (`log.audit`) of every mutating request, with the caller's identity (set on the
 * context by api/guard.ts). Authentication failures and denials are audited by the guard.
 */
export function requestLogger(log: Logger, audit: Logger | undefined) {
  return (ctx: RequestContext, info: { status: number; route: string; durationMs: number; aborted: boolean; bytesSent: number }) => {
    const failed = info.status >= 500 || info.aborted;
    const audited = audit !== undefined && !READ_METHODS.has(ctx.method);
    // Most requests log nothing: the entry is not built for them (manifest HEAD/GET hot path).
    if (!failed && !audited && !log.isLevelEnabled('debug')) return;
    const entry = {
      reqId: ctx.id,
      method: ctx.method,
      path: ctx.path,
      route: info.route,
      status: info.status,
      ms: Math.round(info.durationMs * 100) / 100,
      bytesIn: ctx.bodyBytesReceived(),
      bytesOut: info.bytesSent,
      aborted: info.aborted || undefined,
      client: ctx.remoteAddress,
      user: ctx.identity?.name,
    };
    if (failed) log.warn(entry, 'request');
    else if (log.isLevelEnabled('debug')) log.debug(entry, 'request');
    if (audited) audit.info({ ...entry, groups: ctx.identity?.groups, query: ctx.rawQuery ? redactCredentials(ctx.rawQuery) : undefined }, 'audit');
  };
}
