/**
 * Normalized types of the `extensions` section (zot `pkg/extensions/config`). Durations are
 * milliseconds; each extension that is present carries its resolved `enable`.
 */

import type { DurationMs } from './types.ts';

/** Every extension zot knows; each present one carries its resolved `enable`. */
export interface ExtensionsConfig {
  search?: SearchConfig;
  sync?: SyncConfig;
  metrics?: MetricsConfig;
  scrub?: ScrubConfig;
  lint?: LintConfig;
  ui?: ExtensionToggle;
  /** Deprecated in zot and ignored (with a warning). */
  mgmt?: ExtensionToggle;
  /** Deprecated in zot and ignored (use `http.auth.apikey`). */
  apikey?: ExtensionToggle;
  trust?: TrustConfig;
  events?: EventsConfig;
}

/** An extension with nothing but its switch. */
export interface ExtensionToggle {
  enable: boolean;
}

/** Search (GraphQL) and CVE scanning. */
export interface SearchConfig extends ExtensionToggle {
  cve?: {
    /** ≥ 2 h (smaller values are raised, with a warning). */
    updateInterval: DurationMs;
    trivy: {
      dbRepository: string;
      javaDBRepository: string;
      vulnSeveritySources: string[];
      sbom?: { enable: boolean; format: 'spdx-json' | 'cyclonedx' };
    };
  };
}

/** Upstream mirroring. */
export interface SyncConfig extends ExtensionToggle {
  credentialsFile?: string;
  downloadDir?: string;
  registries: SyncRegistryConfig[];
}

/** One upstream registry to mirror. */
export interface SyncRegistryConfig {
  /** Tried in order. */
  urls: string[];
  onDemand: boolean;
  /** Periodic sync period (ms); absent = no periodic sync. */
  pollInterval?: DurationMs;
  content: SyncContent[];
  tlsVerify: boolean;
  certDir?: string;
  maxRetries?: number;
  retryDelay?: DurationMs;
  maxRetryDelay?: DurationMs;
  onlySigned: boolean;
  syncLegacyCosignTags: boolean;
  preserveDigest: boolean;
  manifestCheckInterval?: DurationMs;
  /** Overall HTTP timeout for sync operations (ms). */
  syncTimeout: DurationMs;
  /**
   * skiff only (not a zot key): how long a manifest or referrers request for content held
   * locally waits on this upstream before the local copy is served; an upstream that failed
   * is then skipped (with backoff) so later requests are not delayed at all. Default 5 s.
   */
  upstreamTimeout: DurationMs;
  credentialHelper?: string;
  /** Passed through; decoded by the helper. */
  oauth2CredentialHelper?: Record<string, unknown>;
  /** In-flight requests per upstream host. */
  reqConcurrent: number;
  reqPerSec?: number;
  disableHTTP2?: boolean;
  maxIdleConnsPerHost?: number;
}

/** Which upstream content to mirror and where to put it. */
export interface SyncContent {
  prefix: string;
  tags?: { regex?: string; excludeRegex?: string; semver?: boolean };
  destination?: string;
  stripPrefix: boolean;
}

/** Prometheus metrics. */
export interface MetricsConfig extends ExtensionToggle {
  prometheus: { path: string };
}

/** Periodic integrity check. */
export interface ScrubConfig extends ExtensionToggle {
  /** ≥ 2 h. */
  interval: DurationMs;
}

/** Reject manifests missing mandatory annotations. */
export interface LintConfig extends ExtensionToggle {
  mandatoryAnnotations: string[];
}

/** Signature verification. */
export interface TrustConfig extends ExtensionToggle {
  cosign: boolean;
  notation: boolean;
}

/** CloudEvents emission. */
export interface EventsConfig extends ExtensionToggle {
  sinks: EventSink[];
}

/** One CloudEvents sink. */
export interface EventSink {
  type: 'http' | 'nats';
  address?: string;
  channel?: string;
  timeout?: DurationMs;
  proxy?: string;
  headers?: Record<string, unknown>;
  credentials?: { username?: string; password?: string; file?: string; token?: string };
  tlsConfig?: { caCertFile?: string; certFile?: string; keyFile?: string };
}
