/**
 * The normalized, typed skiff configuration.
 *
 * Key names mirror zot's config schema (zot `pkg/api/config/config.go` and
 * `pkg/extensions/config`) spelled in zot's documented camelCase, so a zot user finds the
 * same keys. Differences from the file form, all made by `loadConfig`:
 * - every duration is a number of MILLISECONDS (may be fractional below 1 ms);
 * - `http.port` is a number;
 * - defaults (see `defaults.ts`) are applied, so core fields are always present;
 * - optional sections (auth, extensions, cluster, ...) are present only when the file
 *   (or an environment override) set them.
 */

import type { ExtensionsConfig } from './types-extensions.ts';

export type * from './types-extensions.ts';

/** A duration in milliseconds, parsed from a Go duration string such as `"1h30m"`. */
export type DurationMs = number;

/** pino-compatible log level; zot's `warning` and `panic` are folded into `warn` and `fatal`. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** The whole configuration: the seven top-level sections zot knows. */
export interface SkiffConfig {
  /** OCI distribution-spec version served; always the compiled-in one (a differing file value only warns). */
  distSpecVersion: string;
  storage: GlobalStorageConfig;
  http: HttpConfig;
  log: LogConfig;
  /** Present only when the file has an `extensions` section. */
  extensions?: ExtensionsConfig;
  scheduler?: SchedulerConfig;
  cluster?: ClusterConfig;
}

// ---------------------------------------------------------------------------------------------
// storage
// ---------------------------------------------------------------------------------------------

/** One image store: the global store, or one `subPaths` entry. */
export interface StorageConfig {
  /**
   * Absolute root of the local OCI layout (a relative path is resolved against the cwd, as zot
   * does). Required, except with a cloud `storageDriver`, where it may be `''`.
   */
  rootDirectory: string;
  /** Dedupe identical blobs with hard links. */
  dedupe: boolean;
  /** Run the periodic garbage collector. */
  gc: boolean;
  /** Minimum age before an orphan blob or a stale upload may be removed (ms). */
  gcDelay: DurationMs;
  /** Period between GC sweeps (ms). */
  gcInterval: DurationMs;
  /** UTC time-of-day window in which a periodic sweep may start; absent = any time. */
  gcTimeWindow?: GcTimeWindow;
  /** fsync every write before acknowledging it. */
  commit: boolean;
  /** Use a remote cache DB (DynamoDB/Redis) instead of the local one. */
  remoteCache: boolean;
  /** Cloud drivers: answer blob GETs with a 307 to a pre-signed URL. */
  redirectBlobURL: boolean;
  /** Repository quota; 0 = no limit. */
  maxRepos: number;
  /**
   * skiff's own key: uploads are refused (507) while the filesystem of rootDirectory has
   * less free space than this many bytes, so a full disk never takes the device down.
   * Written as bytes or with a unit ("64MiB", "1GB"); 0 turns the check off.
   */
  minFreeSpace: number;
  retention: RetentionConfig;
  /** Cloud storage driver parameters, passed through (keys lower-cased, as viper does). */
  storageDriver?: Record<string, unknown>;
  /** Cache / meta DB driver parameters, passed through (keys lower-cased). */
  cacheDriver?: Record<string, unknown>;
}

/** The top-level `storage` section: a store plus the settings only it may carry. */
export interface GlobalStorageConfig extends StorageConfig {
  /** Skip the startup storage walk when binary and storage config are unchanged. */
  fastRestart: boolean;
  /** Repository-name prefix (e.g. `/infra`) → the store that serves it. */
  subPaths: Record<string, StorageConfig>;
}

/** A parsed `"HH:MM-HH:MM"` window; `startMinute > endMinute` means it wraps past midnight. */
export interface GcTimeWindow {
  /** Minutes since 00:00 UTC. */
  startMinute: number;
  endMinute: number;
  /** The window as written, normalized to `HH:MM-HH:MM`. */
  text: string;
}

/** `storage.retention`: which manifests GC may delete beyond plain orphans. */
export interface RetentionConfig {
  /** Log decisions, delete nothing. */
  dryRun: boolean;
  /** Age threshold for untagged manifests and subject-less referrers (ms); defaults to gcDelay. */
  delay: DurationMs;
  /** Ordered; a repository uses the first policy whose `repositories` glob matches. */
  policies: RetentionPolicy[];
}

/** One retention policy. */
export interface RetentionPolicy {
  /** Repository globs (`*` one level, `**` recursive). */
  repositories: string[];
  /** Delete manifests whose `subject` no longer exists. */
  deleteReferrers: boolean;
  /** Delete untagged manifests older than `retention.delay`. */
  deleteUntagged: boolean;
  keepTags: KeepTagsPolicy[];
  keepUntagged?: KeepRule;
}

/** Rule fields shared by `keepTags` and `keepUntagged`. */
export interface KeepRule {
  pulledWithin?: DurationMs;
  pushedWithin?: DurationMs;
  /** 0 = rule not used. */
  mostRecentlyPushedCount: number;
  mostRecentlyPulledCount: number;
}

/** A `keepTags` entry: tags matching `patterns` (regexes) kept by the rule fields. */
export interface KeepTagsPolicy extends KeepRule {
  patterns: string[];
}

// ---------------------------------------------------------------------------------------------
// http
// ---------------------------------------------------------------------------------------------

/** The `http` section: listener, TLS, authentication and authorization. */
export interface HttpConfig {
  address: string;
  /** Listen port; 0 asks the OS for a free one. */
  port: number;
  /** Public base URL (OpenID redirects behind a proxy). */
  externalUrl?: string;
  /** Realm in `WWW-Authenticate: basic realm=...`; empty by default, as in zot. */
  realm: string;
  /** CORS origins, comma-separated as in zot. */
  allowOrigin?: string;
  /** Whole-request read timeout (ms); ≤ 0 = none. */
  readTimeout?: DurationMs;
  /** Response write timeout (ms); ≤ 0 = none. */
  writeTimeout?: DurationMs;
  tls?: TlsConfig;
  auth?: AuthConfig;
  accessControl?: AccessControlConfig;
  ratelimit?: RatelimitConfig;
  /** Compatibility modes; the only value is `docker2s2` (accept Docker schema2 manifests). */
  compat: CompatMode[];
}

/** Media-type compatibility modes accepted in `http.compat`. */
export type CompatMode = 'docker2s2';

/** Certificate files (PEM). Setting `cacert` enables client certificates (mTLS). */
export interface TlsConfig {
  cert: string;
  key: string;
  cacert?: string;
}

/** `http.auth`: the authenticators. */
export interface AuthConfig {
  /** Seconds to sleep before answering a failed authentication. */
  failDelay: number;
  htpasswd?: { path: string };
  ldap?: LdapConfig;
  bearer?: BearerConfig;
  openid?: OpenIdConfig;
  /** API keys (`zak_...` as the Basic password); forced on when `openid` is set, as in zot. */
  apikey: boolean;
  /** JSON file with `hashKey`/`encryptKey` for session cookies. */
  sessionKeysFile?: string;
  /** Remote session store parameters, passed through (e.g. `{name: redis, url}`). */
  sessionDriver?: Record<string, unknown>;
  /** Set the cookie Secure flag without TLS. */
  secureSession?: boolean;
  mtls?: MtlsConfig;
}

/** LDAP authenticator; bind credentials come from `credentialsFile`. */
export interface LdapConfig {
  address?: string;
  port?: number;
  insecure?: boolean;
  startTLS?: boolean;
  skipVerify?: boolean;
  subtreeSearch?: boolean;
  baseDN?: string;
  userAttribute?: string;
  userFilter?: string;
  userGroupAttribute?: string;
  caCert?: string;
  credentialsFile?: string;
}

/** Bearer-token authentication (token service JWTs and workload OIDC). */
export interface BearerConfig {
  realm?: string;
  service?: string;
  cert?: string;
  upstreamTokenEndpoint?: { realm?: string; service?: string; allowInsecureHttp?: boolean };
  awsSecretsManager?: { region?: string; secretName?: string; refreshInterval?: DurationMs };
  oidc?: BearerOidcConfig[];
}

/** One trusted OIDC issuer for workload identity. */
export interface BearerOidcConfig {
  issuer?: string;
  audiences?: string[];
  claimMapping?: {
    variables?: { name?: string; expression?: string }[];
    validations?: { expression?: string; message?: string }[];
    username?: string;
    groups?: string;
  };
  certificateAuthority?: string;
  certificateAuthorityFile?: string;
  skipIssuerVerification?: boolean;
}

/** OpenID / OAuth2 login providers. */
export interface OpenIdConfig {
  /** Provider name (`google`, `gitlab`, `oidc`, `github`) → settings. */
  providers: Record<string, OpenIdProviderConfig>;
  callbackAllowOrigins?: string[];
}

/** One OpenID / OAuth2 provider. */
export interface OpenIdProviderConfig {
  credentialsFile?: string;
  name?: string;
  clientid?: string;
  clientsecret?: string;
  keypath?: string;
  issuer?: string;
  authurl?: string;
  tokenurl?: string;
  scopes?: string[];
  claimMapping?: { username?: string; groups?: string };
}

/** How a client certificate maps to a user identity. */
export interface MtlsConfig {
  identityAttributes?: string[];
  uriSanPattern?: string;
  uriSanIndex?: number;
  dnsSanIndex?: number;
  emailSanIndex?: number;
}

/** `http.accessControl`: authorization policies. */
export interface AccessControlConfig {
  /** Repository glob → policy group; the longest matching glob wins. */
  repositories: Record<string, PolicyGroup>;
  adminPolicy?: AccessPolicy;
  /** Group name → members. */
  groups: Record<string, { users: string[] }>;
  metrics?: { users?: string[]; anonymousPolicy?: string[] };
}

/** Policies for one repository glob. */
export interface PolicyGroup {
  policies: AccessPolicy[];
  /** Actions for any authenticated user not matched by a policy. */
  defaultPolicy: string[];
  /** Actions for unauthenticated users. */
  anonymousPolicy: string[];
}

/** Who may do what; `conditions` are CEL expressions that must all hold. */
export interface AccessPolicy {
  users: string[];
  groups: string[];
  actions: string[];
  conditions: { expression?: string; message?: string }[];
}

/** Request-rate limits (requests per second). */
export interface RatelimitConfig {
  rate?: number;
  methods: { method?: string; rate?: number }[];
}

// ---------------------------------------------------------------------------------------------
// log, scheduler, cluster
// ---------------------------------------------------------------------------------------------

/** The `log` section. */
export interface LogConfig {
  level: LogLevel;
  /** Log file path; stdout when absent. */
  output?: string;
  /** Audit log file path (mutating requests, GC and retention decisions). */
  audit?: string;
}

/** Background task workers. */
export interface SchedulerConfig {
  numWorkers?: number;
}

/** Scale-out cluster: every member owns the repos whose SipHash selects it. */
export interface ClusterConfig {
  /** `host:port` of every member. */
  members: string[];
  /** 16-byte SipHash key. */
  hashKey?: string;
  tls?: { cert?: string; key?: string; cacert?: string };
}

// ---------------------------------------------------------------------------------------------
// loading
// ---------------------------------------------------------------------------------------------

/** What `loadConfig` returns. */
export interface LoadedConfig {
  /** Normalized, defaults applied. */
  config: SkiffConfig;
  /** The file path read, or `'<embedded default>'`. */
  source: string;
  /** Things worth logging that do not stop the server (zot warns on the same ones). */
  warnings: string[];
  /** Keys of features set in the config that skiff does not implement yet (see `features.ts`). */
  unsupported: string[];
}
