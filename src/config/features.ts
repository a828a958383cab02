import type { KeyPath } from './canonicalize.ts';

/**
 * One config feature and whether skiff implements it yet. `inert` says which values of an
 * unsupported feature are harmless to leave in a file (e.g. `redirectBlobURL: false`,
 * `sync: {enable: false}`), so they are not reported.
 */
export interface FeatureEntry {
  /** Canonical dotted key path; `*` matches any one key (a subPaths prefix, a glob). */
  key: string;
  supported: boolean;
  inert?: (value: unknown) => boolean;
}

const isFalse = (v: unknown): boolean => v === false;
const disabled = (v: unknown): boolean => typeof v === 'object' && v !== null && (v as { enable?: unknown }).enable === false;

/**
 * THE table of what skiff implements. When a feature is built, flip its `supported` (or add a
 * more specific supported entry, e.g. `http.auth.htpasswd` under an unsupported `http.auth`:
 * the longest matching entry decides). Keys not covered by any entry are supported.
 */
export const FEATURES: readonly FeatureEntry[] = [
  // supported now
  { key: 'distSpecVersion', supported: true },
  { key: 'storage.rootDirectory', supported: true },
  { key: 'storage.dedupe', supported: true },
  { key: 'storage.gc', supported: true },
  { key: 'storage.gcDelay', supported: true },
  { key: 'storage.gcInterval', supported: true },
  { key: 'storage.gcTimeWindow', supported: true },
  { key: 'storage.retention', supported: true },
  { key: 'storage.commit', supported: true },
  { key: 'storage.maxRepos', supported: true },
  { key: 'storage.minFreeSpace', supported: true },
  { key: 'http.address', supported: true },
  { key: 'http.port', supported: true },
  { key: 'http.realm', supported: true },
  { key: 'http.tls', supported: true },
  { key: 'http.compat', supported: true },
  { key: 'log', supported: true },
  { key: 'extensions.scrub', supported: true },
  { key: 'extensions.sync', supported: true },
  // accepted but unsupported: reported by `skiff verify` and at start, no effect
  { key: 'extensions.sync.registries.*.credentialHelper', supported: false },
  { key: 'extensions.sync.registries.*.oauth2CredentialHelper', supported: false },
  { key: 'extensions.sync.registries.*.reqPerSec', supported: false },
  { key: 'storage.storageDriver', supported: false },
  { key: 'storage.cacheDriver', supported: false },
  { key: 'storage.subPaths', supported: false },
  { key: 'storage.remoteCache', supported: false, inert: isFalse },
  { key: 'storage.redirectBlobURL', supported: false, inert: isFalse },
  { key: 'storage.fastRestart', supported: false, inert: isFalse },
  { key: 'http.externalUrl', supported: false },
  { key: 'http.allowOrigin', supported: false },
  { key: 'http.readTimeout', supported: false },
  { key: 'http.writeTimeout', supported: false },
  { key: 'http.auth', supported: true },
  { key: 'http.auth.bearer.oidc', supported: false },
  { key: 'http.auth.bearer.upstreamTokenEndpoint', supported: false },
  { key: 'http.auth.bearer.awsSecretsManager', supported: false },
  { key: 'http.auth.sessionDriver', supported: false },
  { key: 'http.auth.openid.providers.github', supported: false },
  { key: 'http.accessControl', supported: true },
  // CEL conditions are not evaluated: a policy carrying any is never applied (fails closed).
  { key: 'http.accessControl.adminPolicy.conditions', supported: false, inert: (v) => Array.isArray(v) && v.length === 0 },
  { key: 'http.accessControl.metrics', supported: false },
  { key: 'http.ratelimit', supported: true },
  { key: 'extensions.search', supported: false, inert: disabled },
  { key: 'extensions.metrics', supported: false, inert: disabled },
  { key: 'extensions.lint', supported: false, inert: disabled },
  { key: 'extensions.ui', supported: false, inert: disabled },
  { key: 'extensions.trust', supported: false, inert: disabled },
  { key: 'extensions.events', supported: false, inert: disabled },
  // mgmt and apikey are deprecated in zot and ignored with a warning, not "unsupported".
  { key: 'extensions.mgmt', supported: true },
  { key: 'extensions.apikey', supported: true },
  { key: 'scheduler', supported: false },
  { key: 'cluster', supported: false },
];

/** Keys of the features skiff implements (derived from {@link FEATURES}). */
export const SUPPORTED_FEATURES: readonly string[] = FEATURES.filter((f) => f.supported).map((f) => f.key);

const SPLIT = FEATURES.map((f) => ({ ...f, segs: f.key.split('.') }));

/** The most specific table entry covering a key path, if any. */
function entryFor(path: KeyPath): (typeof SPLIT)[number] | undefined {
  let best: (typeof SPLIT)[number] | undefined;
  for (const e of SPLIT) {
    if (e.segs.length > path.length || (best !== undefined && e.segs.length <= best.segs.length)) continue;
    if (e.segs.every((s, i) => s === '*' || s === path[i])) best = e;
  }
  return best;
}

/** Whether the feature at a dotted key path (e.g. `extensions.sync`) is implemented. */
export function isFeatureSupported(key: string): boolean {
  return entryFor(key.split('.'))?.supported ?? true;
}

/**
 * The unsupported features a canonical config tree actually uses, as table keys in table
 * order. Walks every set leaf (a scalar, a list, an empty section, or a pass-through map),
 * finds its most specific entry, and reports the entry unless the value there is inert.
 */
export function findUnsupported(tree: Record<string, unknown>): string[] {
  const hits = new Set<string>();
  const valueAt = (segs: readonly string[]): unknown =>
    segs.reduce<unknown>((v, s) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[s] : undefined), tree);
  const isSection = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0;
  const visit = (value: unknown, path: string[]): void => {
    if (isSection(value)) {
      for (const [k, v] of Object.entries(value)) visit(v, [...path, k]);
      return;
    }
    // A list of sections (sync registries) is walked item by item; `*` matches the index.
    if (Array.isArray(value) && value.length > 0 && value.every(isSection)) {
      value.forEach((item, i) => visit(item, [...path, String(i)]));
      return;
    }
    const e = entryFor(path);
    if (e === undefined || e.supported) return;
    const at = valueAt(e.segs.map((s, i) => (s === '*' ? (path[i] as string) : s)));
    if (e.inert?.(at) !== true) hits.add(e.key);
  };
  for (const [k, v] of Object.entries(tree)) visit(v, [k]);
  return FEATURES.filter((f) => hits.has(f.key)).map((f) => f.key);
}
