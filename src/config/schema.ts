/**
 * The shape of a zot config file, as data: which keys exist (in their canonical camelCase
 * spelling), what type each holds, and where arbitrary keys are legal. `canonicalize.ts`
 * walks a parsed file against it (case-insensitive keys, unknown keys rejected, weak typing
 * as viper/mapstructure do); `env.ts` resolves `SKIFF_*` names against it.
 *
 * Sources: zot `pkg/api/config/config.go`, `pkg/extensions/config/**` (v2.1.16).
 */

/** A node of the schema tree. */
export type SchemaNode =
  | { kind: 'object'; fields: Record<string, SchemaNode>; nullIsEmpty?: boolean }
  /** Arbitrary keys (prefixes, globs, names), each holding `value`. Keys are kept as written. */
  | { kind: 'map'; value: SchemaNode }
  /** Anything, passed through; object keys are lower-cased recursively, as viper does. */
  | { kind: 'any' }
  | { kind: 'list'; item: SchemaNode }
  | { kind: 'string' }
  | { kind: 'bool' }
  | { kind: 'int'; min?: number }
  | { kind: 'number' }
  /** Go duration string (or a number of nanoseconds, as Go's time.Duration) → milliseconds. */
  | { kind: 'duration' }
  | { kind: 'port' }
  /** One of `values`, matched case-insensitively, normalized to the spelling given here. */
  | { kind: 'enum'; values: readonly string[] }
  /** `"HH:MM-HH:MM"`. */
  | { kind: 'timeWindow' };

const obj = (fields: Record<string, SchemaNode>): SchemaNode => ({ kind: 'object', fields });
/** An extension section: `ui:` with no value (YAML null) still means "present". */
const ext = (fields: Record<string, SchemaNode>): SchemaNode => ({ kind: 'object', fields: { enable: bool, ...fields }, nullIsEmpty: true });
const map = (value: SchemaNode): SchemaNode => ({ kind: 'map', value });
const list = (item: SchemaNode): SchemaNode => ({ kind: 'list', item });
const enumOf = (...values: string[]): SchemaNode => ({ kind: 'enum', values });
const str: SchemaNode = { kind: 'string' };
const bool: SchemaNode = { kind: 'bool' };
const int: SchemaNode = { kind: 'int' };
const uint: SchemaNode = { kind: 'int', min: 0 };
const num: SchemaNode = { kind: 'number' };
const dur: SchemaNode = { kind: 'duration' };
const any: SchemaNode = { kind: 'any' };
const strs: SchemaNode = list(str);

const tls = obj({ cert: str, key: str, cacert: str });

const keepRule = {
  pulledWithin: dur,
  pushedWithin: dur,
  mostRecentlyPushedCount: uint,
  mostRecentlyPulledCount: uint,
};

const retention = obj({
  dryRun: bool,
  delay: dur,
  policies: list(
    obj({
      repositories: strs,
      deleteReferrers: bool,
      deleteUntagged: bool,
      keepTags: list(obj({ patterns: strs, ...keepRule })),
      keepUntagged: obj(keepRule),
    }),
  ),
});

/** Fields shared by the global store and each `subPaths` entry. */
const storeFields: Record<string, SchemaNode> = {
  rootDirectory: str,
  maxRepos: uint,
  // skiff's own (zot has no such key): bytes of free space below which uploads are refused.
  minFreeSpace: str,
  dedupe: bool,
  remoteCache: bool,
  redirectBlobURL: bool,
  gc: bool,
  commit: bool,
  gcDelay: dur,
  gcInterval: dur,
  gcTimeWindow: { kind: 'timeWindow' },
  retention,
  storageDriver: any,
  cacheDriver: any,
};

const condition = obj({ expression: str, message: str });
const policy = obj({ users: strs, groups: strs, actions: strs, conditions: list(condition) });

const auth = obj({
  failDelay: uint,
  htpasswd: obj({ path: str }),
  ldap: obj({
    credentialsFile: str,
    port: int,
    insecure: bool,
    startTLS: bool,
    skipVerify: bool,
    subtreeSearch: bool,
    address: str,
    userGroupAttribute: str,
    baseDN: str,
    userAttribute: str,
    userFilter: str,
    caCert: str,
  }),
  bearer: obj({
    realm: str,
    service: str,
    cert: str,
    upstreamTokenEndpoint: obj({ realm: str, service: str, allowInsecureHttp: bool }),
    awsSecretsManager: obj({ region: str, secretName: str, refreshInterval: dur }),
    oidc: list(
      obj({
        issuer: str,
        audiences: strs,
        claimMapping: obj({
          variables: list(obj({ name: str, expression: str })),
          validations: list(obj({ expression: str, message: str })),
          username: str,
          groups: str,
        }),
        certificateAuthority: str,
        certificateAuthorityFile: str,
        skipIssuerVerification: bool,
      }),
    ),
  }),
  openid: obj({
    providers: map(
      obj({
        credentialsFile: str,
        name: str,
        clientid: str,
        clientsecret: str,
        keypath: str,
        issuer: str,
        authurl: str,
        tokenurl: str,
        scopes: strs,
        claimMapping: obj({ username: str, groups: str }),
      }),
    ),
    callbackAllowOrigins: strs,
  }),
  apikey: bool,
  sessionKeysFile: str,
  sessionDriver: any,
  secureSession: bool,
  mtls: obj({ identityAttributes: strs, uriSanPattern: str, uriSanIndex: uint, dnsSanIndex: uint, emailSanIndex: uint }),
});

const http = obj({
  address: str,
  port: { kind: 'port' },
  externalUrl: str,
  realm: str,
  allowOrigin: str,
  readTimeout: dur,
  writeTimeout: dur,
  tls,
  auth,
  accessControl: obj({
    repositories: map(obj({ policies: list(policy), defaultPolicy: strs, anonymousPolicy: strs })),
    adminPolicy: policy,
    groups: map(obj({ users: strs })),
    metrics: obj({ users: strs, anonymousPolicy: strs }),
  }),
  ratelimit: obj({ rate: uint, methods: list(obj({ method: str, rate: uint })) }),
  compat: list(enumOf('docker2s2')),
});

const syncRegistry = obj({
  urls: strs,
  pollInterval: dur,
  content: list(
    obj({
      prefix: str,
      tags: obj({ regex: str, excludeRegex: str, semver: bool }),
      destination: str,
      stripPrefix: bool,
    }),
  ),
  tlsVerify: bool,
  onDemand: bool,
  manifestCheckInterval: dur,
  certDir: str,
  maxRetries: uint,
  retryDelay: dur,
  maxRetryDelay: dur,
  onlySigned: bool,
  syncLegacyCosignTags: bool,
  credentialHelper: enumOf('ecr', 'gcp', 'oauth2'),
  oauth2CredentialHelper: any,
  preserveDigest: bool,
  syncTimeout: dur,
  reqConcurrent: uint,
  reqPerSec: num,
  disableHTTP2: bool,
  maxIdleConnsPerHost: uint,
  /** skiff only: wait on an upstream this long before serving a cached copy (offline first). */
  upstreamTimeout: dur,
});

const extensions = obj({
  search: ext({
    cve: obj({
      updateInterval: dur,
      trivy: obj({
        dbRepository: str,
        javaDBRepository: str,
        vulnSeveritySources: strs,
        sbom: obj({ enable: bool, format: enumOf('spdx-json', 'cyclonedx') }),
      }),
    }),
  }),
  sync: ext({ credentialsFile: str, downloadDir: str, registries: list(syncRegistry) }),
  metrics: ext({ prometheus: obj({ path: str }) }),
  scrub: ext({ interval: dur }),
  lint: ext({ mandatoryAnnotations: strs }),
  ui: ext({}),
  mgmt: ext({}),
  apikey: ext({}),
  trust: ext({ cosign: bool, notation: bool }),
  events: ext({
    sinks: list(
      obj({
        type: enumOf('http', 'nats'),
        address: str,
        channel: str,
        timeout: dur,
        proxy: str,
        headers: any,
        credentials: obj({ username: str, password: str, file: str, token: str }),
        tlsConfig: obj({ caCertFile: str, certFile: str, keyFile: str }),
      }),
    ),
  }),
});

/** The root of a zot / skiff config file. */
export const CONFIG_SCHEMA: SchemaNode = obj({
  distSpecVersion: str,
  // Read-only build facts that zot's mgmt endpoint reports; a config dumped from it carries
  // them, and zot accepts (and ignores) them, so skiff does too.
  goVersion: str,
  commit: str,
  releaseTag: str,
  binaryType: str,
  storage: obj({ ...storeFields, fastRestart: bool, subPaths: map(obj(storeFields)) }),
  http,
  log: obj({
    level: enumOf('trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic'),
    output: str,
    audit: str,
  }),
  extensions,
  scheduler: obj({ numWorkers: uint }),
  cluster: obj({ members: strs, hashKey: str, tls }),
});
