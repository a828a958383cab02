import { DEFAULTS, DIST_SPEC_VERSION } from './defaults.ts';
import { normalizeExtensions } from './normalize-extensions.ts';
import { normalizeHttp } from './normalize-http.ts';
import { normalizeStorage } from './normalize-storage.ts';
import { issue, num, section, str, strs, type NormalizeContext, type Tree } from './tree.ts';
import type { ClusterConfig, LogLevel, SkiffConfig } from './types.ts';

/** zot accepts zerolog/slog spellings; skiff's logger (pino) knows these six. */
const LOG_LEVELS: Record<string, LogLevel> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  panic: 'fatal',
};

/**
 * Turn a canonical tree (keys canonical, scalars typed, durations in ms) into the typed
 * config: apply defaults, resolve paths, and record semantic issues and warnings.
 */
export function normalize(tree: Tree, ctx: NormalizeContext): SkiffConfig {
  const distSpecVersion = str(tree, 'distSpecVersion');
  if (distSpecVersion !== undefined && distSpecVersion !== DIST_SPEC_VERSION) {
    ctx.warnings.push(`distSpecVersion ${JSON.stringify(distSpecVersion)} differs from the version skiff serves (${DIST_SPEC_VERSION}); using ${DIST_SPEC_VERSION}`);
  }
  const storage = normalizeStorage(section(tree, 'storage'), ctx);
  const log = section(tree, 'log');
  const config: SkiffConfig = {
    distSpecVersion: DIST_SPEC_VERSION,
    storage,
    http: normalizeHttp(section(tree, 'http'), ctx),
    log: { level: LOG_LEVELS[str(log, 'level', DEFAULTS.log.level)] ?? DEFAULTS.log.level },
  };
  const output = str(log, 'output');
  const audit = str(log, 'audit');
  if (output !== undefined && output !== '') config.log.output = output;
  if (audit !== undefined && audit !== '') config.log.audit = audit;

  const extensions = section(tree, 'extensions');
  if (extensions !== undefined) {
    config.extensions = normalizeExtensions(extensions, [storage, ...Object.values(storage.subPaths)], ctx);
  }
  const scheduler = section(tree, 'scheduler');
  if (scheduler !== undefined) {
    config.scheduler = {};
    const workers = num(scheduler, 'numWorkers');
    if (workers !== undefined) config.scheduler.numWorkers = workers;
  }
  const cluster = section(tree, 'cluster');
  if (cluster !== undefined) config.cluster = normalizeCluster(cluster, ctx);
  return config;
}

function normalizeCluster(t: Tree, ctx: NormalizeContext): ClusterConfig {
  const cluster: ClusterConfig = { members: strs(t, 'members') };
  const hashKey = str(t, 'hashKey');
  if (hashKey !== undefined) {
    // SipHash takes a 128-bit key; zot refuses anything else.
    if (Buffer.byteLength(hashKey) !== 16) issue(ctx, 'cluster.hashKey', `must be exactly 16 bytes, got ${Buffer.byteLength(hashKey)}`);
    cluster.hashKey = hashKey;
  }
  const tls = section(t, 'tls');
  if (tls !== undefined) cluster.tls = structuredClone(tls);
  return cluster;
}
