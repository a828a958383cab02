import type { Handler } from '../http/types.ts';
import type { ApiDeps } from './context.ts';
import { json } from './common.ts';

/** `GET /v2/`: the API version check (distribution-spec "Determining support"). */
export function baseHandler(): Handler {
  return () => json(200, {});
}

/**
 * Kubernetes-style probes, as zot serves them: /livez always passes, /startupz once
 * the index is reconciled with the disk, /readyz while the listener serves.
 */
export function healthHandlers(deps: ApiDeps): { livez: Handler; readyz: Handler; startupz: Handler } {
  const probe = (ok: () => boolean): Handler => () => (ok() ? json(200, { status: 'ok' }) : json(503, { status: 'unavailable' }));
  return {
    livez: probe(() => true),
    readyz: probe(() => deps.health.ready && deps.health.started),
    startupz: probe(() => deps.health.started),
  };
}

/** `GET /v2/_oci/ext/discover`: the OCI extensions list, as contributed by extensions. */
export function discoverHandler(deps: ApiDeps): Handler {
  return () => json(200, { extensions: deps.extensions() });
}
