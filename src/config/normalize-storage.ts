import { resolve } from 'node:path';
import { formatPath } from './canonicalize.ts';
import { DEFAULTS } from './defaults.ts';
import { formatDuration } from './duration.ts';
import { bool, has, issue, list, num, section, str, strs, type NormalizeContext, type Tree } from './tree.ts';
import type { GcTimeWindow, GlobalStorageConfig, KeepRule, RetentionConfig, RetentionPolicy, StorageConfig } from './types.ts';

const STORAGE_DRIVERS = ['s3', 'gcs', 'azure'];
const CACHE_DRIVERS = ['boltdb', 'dynamodb', 'redis'];

/** The `storage` section with zot's defaults and checks applied. */
export function normalizeStorage(t: Tree | undefined, ctx: NormalizeContext): GlobalStorageConfig {
  const global = normalizeStore(t, ['storage'], DEFAULTS.storage, ctx);
  const subPaths: Record<string, StorageConfig> = {};
  for (const [prefix, sub] of Object.entries(section(t, 'subPaths') ?? {})) {
    subPaths[prefix] = normalizeStore(sub as Tree, ['storage', 'subPaths', prefix], DEFAULTS.subPath, ctx);
  }
  return { ...global, fastRestart: bool(t, 'fastRestart', DEFAULTS.storage.fastRestart), subPaths };
}

/**
 * One store. zot's rules for the GC timings: when a key is absent it takes the default if gc
 * is on and 0 if gc is off; `retention.delay` defaults to the store's gcDelay (0 with gc off).
 */
function normalizeStore(t: Tree | undefined, path: string[], defaults: { dedupe: boolean; gc: boolean }, ctx: NormalizeContext): StorageConfig {
  const at = (key: string): string => formatPath([...path, key]);
  const root = str(t, 'rootDirectory', '');
  // With a cloud storageDriver the directory only holds local caches, and zot runs without it.
  if (root.trim() === '' && !has(t, 'storageDriver')) issue(ctx, at('rootDirectory'), 'required: the directory that holds the images');
  const dedupe = bool(t, 'dedupe', defaults.dedupe);
  const gc = bool(t, 'gc', defaults.gc);
  const off = DEFAULTS.storage.disabledGcDelay;
  const gcDelay = num(t, 'gcDelay', gc ? DEFAULTS.storage.gcDelay : off);
  const gcInterval = num(t, 'gcInterval', gc ? DEFAULTS.storage.gcInterval : off);
  const gcTimeWindow = t?.gcTimeWindow as GcTimeWindow | undefined;
  if (gcDelay < 0) issue(ctx, at('gcDelay'), `must not be negative, got ${formatDuration(gcDelay)}`);
  if (gcInterval < 0) issue(ctx, at('gcInterval'), `must not be negative, got ${formatDuration(gcInterval)}`);
  if (path.length > 1 && gc && gcDelay <= 0) issue(ctx, at('gcDelay'), 'must be greater than 0 when gc is enabled');
  if (!gc) {
    if (gcDelay !== 0) ctx.warnings.push(`${at('gcDelay')} is set but ${at('gc')} is false; it will be ignored`);
    if (gcInterval !== 0) ctx.warnings.push(`${at('gcInterval')} is set but ${at('gc')} is false; it will be ignored`);
    if (gcTimeWindow !== undefined) ctx.warnings.push(`${at('gcTimeWindow')} is set but ${at('gc')} is false; it will be ignored`);
  }

  const storageDriver = driver(t, 'storageDriver', STORAGE_DRIVERS, path, ctx);
  const cacheDriver = driver(t, 'cacheDriver', CACHE_DRIVERS, path, ctx);
  if (storageDriver?.name === 's3' && has(storageDriver, 'regionendpoint') && !has(storageDriver, 'forcepathstyle')) {
    storageDriver.forcepathstyle = true;
    ctx.warnings.push(`${at('storageDriver')}: regionendpoint without forcepathstyle; forcepathstyle set to true (deprecated, as in zot)`);
  }
  const redirectBlobURL = bool(t, 'redirectBlobURL', DEFAULTS.storage.redirectBlobURL);
  if (redirectBlobURL && storageDriver === undefined) issue(ctx, at('redirectBlobURL'), 'needs a cloud storageDriver (s3, gcs or azure)');

  const store: StorageConfig = {
    rootDirectory: root.trim() === '' ? '' : resolve(ctx.cwd, root), // zot resolves against the cwd, not the file's dir
    dedupe,
    gc,
    gcDelay,
    gcInterval,
    commit: bool(t, 'commit', DEFAULTS.storage.commit),
    // zot: with dedupe on and a cloud driver, the cache must be shared, so remoteCache defaults to true.
    remoteCache: bool(t, 'remoteCache', dedupe && storageDriver !== undefined),
    redirectBlobURL,
    maxRepos: num(t, 'maxRepos', DEFAULTS.storage.maxRepos),
    minFreeSpace: byteSize(t, 'minFreeSpace', DEFAULTS.storage.minFreeSpace, at, ctx),
    retention: normalizeRetention(section(t, 'retention'), gcDelay, gc),
  };
  if (gcTimeWindow !== undefined) store.gcTimeWindow = gcTimeWindow;
  if (storageDriver !== undefined) store.storageDriver = storageDriver;
  if (cacheDriver !== undefined) store.cacheDriver = cacheDriver;
  return store;
}

function driver(t: Tree | undefined, key: string, names: string[], path: string[], ctx: NormalizeContext): Tree | undefined {
  const d = section(t, key);
  if (d === undefined) return undefined;
  const name = d.name;
  if (typeof name !== 'string' || !names.includes(name.toLowerCase())) {
    issue(ctx, formatPath([...path, key, 'name']), `expected one of ${names.map((n) => JSON.stringify(n)).join(', ')}, got ${JSON.stringify(name ?? null)}`);
    return d;
  }
  return { ...d, name: name.toLowerCase() };
}

function normalizeRetention(t: Tree | undefined, gcDelay: number, gc: boolean): RetentionConfig {
  return {
    dryRun: bool(t, 'dryRun', DEFAULTS.retention.dryRun),
    delay: num(t, 'delay', gc ? gcDelay : DEFAULTS.storage.disabledGcDelay),
    policies: list(t, 'policies').map((p): RetentionPolicy => {
      const policy: RetentionPolicy = {
        repositories: strs(p, 'repositories'),
        deleteReferrers: bool(p, 'deleteReferrers', DEFAULTS.retention.deleteReferrers),
        deleteUntagged: bool(p, 'deleteUntagged', DEFAULTS.retention.deleteUntagged),
        keepTags: list(p, 'keepTags').map((k) => ({ patterns: strs(k, 'patterns'), ...keepRule(k) })),
      };
      const untagged = section(p, 'keepUntagged');
      if (untagged !== undefined) policy.keepUntagged = keepRule(untagged);
      return policy;
    }),
  };
}

function keepRule(t: Tree): KeepRule {
  const rule: KeepRule = {
    mostRecentlyPushedCount: num(t, 'mostRecentlyPushedCount', 0),
    mostRecentlyPulledCount: num(t, 'mostRecentlyPulledCount', 0),
  };
  const pulled = num(t, 'pulledWithin');
  const pushed = num(t, 'pushedWithin');
  if (pulled !== undefined) rule.pulledWithin = pulled;
  if (pushed !== undefined) rule.pushedWithin = pushed;
  return rule;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** A size in bytes written as a number or with a unit ("64MiB", "1.5GB"). */
function byteSize(t: Tree | undefined, key: string, fallback: number, at: (k: string) => string, ctx: NormalizeContext): number {
  const raw = t?.[key];
  if (raw === undefined || raw === null || raw === '') return fallback;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(raw));
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    issue(ctx, at(key), `expected a size such as 64MiB, 1GB or a number of bytes, got ${JSON.stringify(raw)}`);
    return fallback;
  }
  return Math.round(Number(m[1]) * unit);
}
