import type { Logger } from 'pino';
import type { Storage } from '../storage/index.ts';
import type { LookupHooks } from '../extensions/sdk.ts';

/** A `/v2/_oci/ext/discover` entry (OCI extensions list), contributed by extensions. */
export interface DiscoveredExtension {
  name: string;
  url: string;
  description: string;
  endpoints: string[];
}

/** Health state read by /livez, /readyz and /startupz. */
export interface Health {
  /** Storage reconciled, extensions initialised. */
  started: boolean;
  /** The listener is serving and not shutting down. */
  ready: boolean;
}

/** What API handlers may use: storage through its roles, a logger, shared state. */
export interface ApiDeps {
  storage: Storage;
  log: Logger;
  health: Health;
  extensions: () => DiscoveredExtension[];
  /** Extension hooks run before manifest and referrers lookups (on-demand sync). */
  lookup?: Required<LookupHooks>;
}
