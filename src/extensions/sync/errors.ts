/**
 * Upstream failures by kind, because each kind is handled differently: `unreachable`
 * marks the URL down (offline first, backoff) and tries the next URL; `denied` and
 * `invalid` fall through to the next registry entry, as zot does for 401s and bad content.
 */
export type UpstreamErrorKind = 'unreachable' | 'denied' | 'invalid';

export class UpstreamError extends Error {
  constructor(readonly kind: UpstreamErrorKind, message: string, readonly status?: number) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** True for failures that say nothing about the content: the network or the upstream is down. */
export function isUnreachable(err: unknown): boolean {
  return err instanceof UpstreamError && err.kind === 'unreachable';
}
