import type { Logger } from 'pino';
import type { Storage } from '../storage/index.ts';
import type { LookupHooks } from '../extensions/sdk.ts';
import type { Guard } from './guard.ts';

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
  /**
   * Authentication and authorization (api/guard.ts): routes are wrapped with it, and
   * handlers ask it what a caller may do beyond the route's rule (catalog filter, mount
   * source, manifest collisions). Absent: no auth at all (tests, tools).
   */
  guard?: Guard;
}
