/**
 * Every default value of the configuration, in one place. Values follow zot v2.1.16
 * (`config.New()`, `applyDefaultValues` in `pkg/cli/server/root.go`, storage/sync constants);
 * where skiff deliberately differs, the comment says so. `normalize.ts` applies them.
 */

const HOUR = 3_600_000;

/** The dist-spec version skiff serves (zot: `distspec.Version`). A different file value only warns. */
export const DIST_SPEC_VERSION = '1.1.1';

/** Source label of the config used when `skiff serve` is given no file. */
export const EMBEDDED_SOURCE = '<embedded default>';

export const DEFAULTS = {
  http: {
    /** Loopback only, as zot: exposing the registry is an explicit choice. */
    address: '127.0.0.1',
    /** zot keeps the port as the string "8080"; skiff normalizes it to a number. */
    port: 8080,
    /** zot sends `realm=""` unless configured. */
    realm: '',
  },

  storage: {
    dedupe: true,
    gc: true,
    /** Orphans younger than this survive GC: an upload in flight may not be referenced yet. */
    gcDelay: 1 * HOUR,
    gcInterval: 1 * HOUR,
    /** fsync on every write is costly; zot leaves it to small devices to opt in. */
    commit: false,
    redirectBlobURL: false,
    /** 0 = no repository quota. */
    maxRepos: 0,
    /** Keep some room for the OS and the index on a device whose only disk this is. */
    minFreeSpace: 64 * 1024 * 1024,
    fastRestart: false,
    /**
     * When `gc` is false and `gcDelay` / `gcInterval` / `retention.delay` are absent, zot sets
     * them to 0 rather than to the defaults above (nothing is collected anyway).
     */
    disabledGcDelay: 0,
  },

  /**
   * zot decodes each `subPaths` entry into a zero-valued struct, not into the global defaults:
   * a sub-store has dedupe and gc OFF unless its entry turns them on. Kept for compatibility.
   */
  subPath: {
    dedupe: false,
    gc: false,
  },

  retention: {
    dryRun: false,
    /** `delay` defaults to the store's gcDelay (applied in normalize). */
    deleteReferrers: false,
    deleteUntagged: true,
  },

  log: {
    /**
     * zot's `config.New()` defaults to `debug`. skiff defaults to `info`: debug output on every
     * request is too loud for an edge device, and a zot file that wants debug says so
     * (all of zot's examples set `log.level` explicitly).
     */
    level: 'info' as const,
  },

  extensions: {
    /**
     * A present extension section without `enable` counts as enabled for these (zot
     * `applyDefaultValues`); `lint` and `events` must be enabled explicitly.
     */
    enabledWhenPresent: ['search', 'sync', 'metrics', 'scrub', 'ui', 'trust'] as readonly string[],
    search: {
      cveUpdateInterval: 2 * HOUR,
      /** Smaller values are raised to this, with a warning (zot). */
      cveMinUpdateInterval: 2 * HOUR,
      trivyDbRepository: 'ghcr.io/aquasecurity/trivy-db',
      trivyJavaDbRepository: 'ghcr.io/aquasecurity/trivy-java-db',
      vulnSeveritySources: ['auto'] as readonly string[],
      sbomFormat: 'spdx-json' as const,
    },
    sync: {
      tlsVerify: true,
      /** Also mirror `sha256-<digest>.sig`/`.sbom` tags of pre-referrers cosign. */
      syncLegacyCosignTags: true,
      syncTimeout: 3 * HOUR,
      /** regclient's per-host in-flight request cap, which zot inherits. */
      reqConcurrent: 3,
      /**
       * skiff only (`upstreamTimeout`): how long a request for an image held locally waits on
       * its upstream before the local copy is served (offline first).
       */
      upstreamTimeout: 5_000,
    },
    metrics: {
      path: '/metrics',
    },
    scrub: {
      interval: 24 * HOUR,
      /** A full scrub reads every blob; smaller values are raised to this, with a warning (zot). */
      minInterval: 2 * HOUR,
    },
  },
} as const;

/**
 * The config `skiff serve` runs with when given no file: listen on 127.0.0.1:8080, store
 * under `./data` (resolved against the cwd at load time), log at `info`. Written in the file
 * form so it goes through the same loader (and `SKIFF_*` overrides) as any file.
 */
export const EMBEDDED_DEFAULT_CONFIG: Readonly<Record<string, unknown>> = {
  distSpecVersion: DIST_SPEC_VERSION,
  storage: { rootDirectory: './data' },
  http: { address: DEFAULTS.http.address, port: DEFAULTS.http.port },
  log: { level: DEFAULTS.log.level },
};
