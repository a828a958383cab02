import { posix } from 'node:path';
import { DEFAULTS } from './defaults.ts';
import { formatDuration } from './duration.ts';
import { bool, issue, list, num, pick, section, str, strs, type NormalizeContext, type Tree } from './tree.ts';
import type { EventSink, ExtensionsConfig, SearchConfig, StorageConfig, SyncContent, SyncRegistryConfig } from './types.ts';

const D = DEFAULTS.extensions;

/** `enable` as written, else on for the extensions zot enables by presence, off for the rest. */
function enabled(t: Tree, name: string): boolean {
  return bool(t, 'enable', D.enabledWhenPresent.includes(name));
}

/**
 * The `extensions` section: zot's presence-means-enabled rule, its defaults and minimums, and
 * the cross-checks zot refuses to start without. `stores` lets sync see cloud drivers.
 */
export function normalizeExtensions(t: Tree, stores: StorageConfig[], ctx: NormalizeContext): ExtensionsConfig {
  const out: ExtensionsConfig = {};
  const get = (name: string): Tree | undefined => section(t, name);

  const search = get('search');
  if (search !== undefined) out.search = normalizeSearch(search, ctx);

  const sync = get('sync');
  if (sync !== undefined) {
    out.sync = { enable: enabled(sync, 'sync'), registries: list(sync, 'registries').map(normalizeRegistry) };
    const credentialsFile = str(sync, 'credentialsFile');
    const downloadDir = str(sync, 'downloadDir');
    if (credentialsFile !== undefined) out.sync.credentialsFile = credentialsFile;
    if (downloadDir !== undefined) out.sync.downloadDir = downloadDir;
    if (out.sync.enable && downloadDir === undefined && stores.some((s) => s.storageDriver !== undefined)) {
      issue(ctx, 'extensions.sync.downloadDir', 'required when sync is used with a cloud storageDriver');
    }
  }

  const metrics = get('metrics');
  if (metrics !== undefined) {
    const path = str(section(metrics, 'prometheus'), 'path', D.metrics.path);
    if (!path.startsWith('/') || posix.normalize(path) !== path || path === '/' || path === '/v2' || path.endsWith('/')) {
      issue(ctx, 'extensions.metrics.prometheus.path', `must be a clean absolute path other than "/" and "/v2", got ${JSON.stringify(path)}`);
    }
    out.metrics = { enable: enabled(metrics, 'metrics'), prometheus: { path } };
  }

  const scrub = get('scrub');
  if (scrub !== undefined) {
    let interval = num(scrub, 'interval', 0) || D.scrub.interval; // zot: 0 means the default
    if (interval < D.scrub.minInterval) {
      ctx.warnings.push(`extensions.scrub.interval ${formatDuration(interval)} is below the ${formatDuration(D.scrub.minInterval)} minimum; using ${formatDuration(D.scrub.minInterval)}`);
      interval = D.scrub.minInterval;
    }
    out.scrub = { enable: enabled(scrub, 'scrub'), interval };
  }

  const lint = get('lint');
  if (lint !== undefined) out.lint = { enable: enabled(lint, 'lint'), mandatoryAnnotations: strs(lint, 'mandatoryAnnotations') };

  for (const name of ['ui', 'mgmt', 'apikey'] as const) {
    const e = get(name);
    if (e !== undefined) out[name] = { enable: enabled(e, name) };
  }
  if (out.mgmt !== undefined) ctx.warnings.push('extensions.mgmt is deprecated and ignored (as in zot): the mgmt route is on whenever search is');
  if (out.apikey !== undefined) ctx.warnings.push('extensions.apikey is deprecated and ignored (as in zot): use http.auth.apikey');
  if (out.ui?.enable === true && out.search?.enable !== true) issue(ctx, 'extensions.ui', 'needs extensions.search to be enabled');

  const trust = get('trust');
  if (trust !== undefined) out.trust = { enable: enabled(trust, 'trust'), cosign: bool(trust, 'cosign', false), notation: bool(trust, 'notation', false) };

  const events = get('events');
  if (events !== undefined) {
    const sinks = list(events, 'sinks').map((s, i) => {
      if (s.type === undefined) issue(ctx, `extensions.events.sinks[${i}].type`, 'required: "http" or "nats"');
      return pick<EventSink>(s) as EventSink;
    });
    out.events = { enable: enabled(events, 'events'), sinks };
  }
  return out;
}

function normalizeSearch(t: Tree, ctx: NormalizeContext): SearchConfig {
  const search: SearchConfig = { enable: enabled(t, 'search') };
  const cve = section(t, 'cve');
  if (cve === undefined) return search;
  let updateInterval = num(cve, 'updateInterval', D.search.cveUpdateInterval);
  if (updateInterval < D.search.cveMinUpdateInterval) {
    ctx.warnings.push(`extensions.search.cve.updateInterval ${formatDuration(updateInterval)} is below the ${formatDuration(D.search.cveMinUpdateInterval)} minimum; using ${formatDuration(D.search.cveMinUpdateInterval)}`);
    updateInterval = D.search.cveMinUpdateInterval;
  }
  const trivy = section(cve, 'trivy');
  const sources = strs(trivy, 'vulnSeveritySources');
  search.cve = {
    updateInterval,
    trivy: {
      dbRepository: str(trivy, 'dbRepository', '') || D.search.trivyDbRepository,
      javaDBRepository: str(trivy, 'javaDBRepository', '') || D.search.trivyJavaDbRepository,
      vulnSeveritySources: sources.length > 0 ? sources : [...D.search.vulnSeveritySources],
    },
  };
  const sbom = section(trivy, 'sbom');
  if (sbom !== undefined) {
    search.cve.trivy.sbom = { enable: bool(sbom, 'enable', false), format: str(sbom, 'format', D.search.sbomFormat) as 'spdx-json' | 'cyclonedx' };
  }
  return search;
}

/** Optional keys copied only when set, so `undefined` never shows up in the normalized config. */
const OPTIONAL_REGISTRY_KEYS = [
  'pollInterval', 'certDir', 'maxRetries', 'retryDelay', 'maxRetryDelay', 'manifestCheckInterval',
  'credentialHelper', 'oauth2CredentialHelper', 'reqPerSec', 'disableHTTP2', 'maxIdleConnsPerHost',
] as const;

function normalizeRegistry(t: Tree): SyncRegistryConfig {
  const reg: SyncRegistryConfig = {
    urls: strs(t, 'urls'),
    onDemand: bool(t, 'onDemand', false),
    content: list(t, 'content').map((c): SyncContent => {
      const content: SyncContent = { prefix: str(c, 'prefix', ''), stripPrefix: bool(c, 'stripPrefix', false) };
      const tags = pick<SyncContent['tags']>(section(c, 'tags'));
      const destination = str(c, 'destination');
      if (tags !== undefined) content.tags = tags;
      if (destination !== undefined) content.destination = destination;
      return content;
    }),
    tlsVerify: bool(t, 'tlsVerify', D.sync.tlsVerify),
    onlySigned: bool(t, 'onlySigned', false),
    syncLegacyCosignTags: bool(t, 'syncLegacyCosignTags', D.sync.syncLegacyCosignTags),
    preserveDigest: bool(t, 'preserveDigest', false),
    syncTimeout: num(t, 'syncTimeout', 0) || D.sync.syncTimeout, // zot: 0 means the default
    reqConcurrent: num(t, 'reqConcurrent', 0) || D.sync.reqConcurrent,
    upstreamTimeout: num(t, 'upstreamTimeout', 0) || D.sync.upstreamTimeout, // skiff only
  };
  const target = reg as unknown as Record<string, unknown>;
  for (const key of OPTIONAL_REGISTRY_KEYS) if (t[key] !== undefined) target[key] = structuredClone(t[key]);
  return reg;
}
