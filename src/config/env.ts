import { canonicalize, formatPath, type KeyPath, type WalkContext } from './canonicalize.ts';
import type { SchemaNode } from './schema.ts';

/** Environment variables with this prefix override config keys. */
export const ENV_PREFIX = 'SKIFF_';

/** `SKIFF_*` variables that steer the process rather than name config keys. */
const PROCESS_VARIABLES = new Set([
  'SKIFF_HTTP_ENGINE',
  'SKIFF_TEST',
  'SKIFF_FROM_SOURCE',
  'SKIFF_SYNC_RESOLVE',
  'SKIFF_SENDFILE',
  'SKIFF_SENDFILE_BINARY',
  'SKIFF_HASH_THREAD',
  'SKIFF_DIRECT_IO',
  'SKIFF_NATIVE_HASH',
  'SKIFF_SOCKET_BODY',
  'SKIFF_SEND_BUFFER',
]);

/**
 * Apply `SKIFF_*` environment overrides to a canonical config tree (in place).
 *
 * Mapping: drop the prefix; underscores separate path segments; each segment is matched
 * case-insensitively against the known keys at that level. So `SKIFF_HTTP_PORT=9000` sets
 * `http.port`, `SKIFF_STORAGE_ROOTDIRECTORY=/x` sets `storage.rootDirectory`,
 * `SKIFF_LOG_LEVEL=debug` sets `log.level`, `SKIFF_EXTENSIONS_SCRUB_INTERVAL=12h` sets
 * `extensions.scrub.interval`. A key whose words are written with underscores between them
 * also matches (`SKIFF_STORAGE_GC_DELAY` → `storage.gcDelay`).
 *
 * Values are read as the file's would be (`"true"`, `"1h"`, `"8080"`); a list of strings is
 * comma-separated (`SKIFF_HTTP_COMPAT=docker2s2`); a target that is an object or a list of
 * objects takes JSON (`SKIFF_STORAGE_STORAGEDRIVER='{"name":"s3"}'`). Keys under a free-form
 * map (a `subPaths` prefix, an access-control glob) cannot be addressed. A `SKIFF_*` name that
 * matches no key only warns (other tools may use the prefix); a bad value is an issue.
 *
 * @returns the canonical key paths that were overridden.
 */
export function applyEnvOverrides(
  tree: Record<string, unknown>,
  schema: SchemaNode,
  env: Record<string, string | undefined>,
  ctx: WalkContext,
): string[] {
  const applied: string[] = [];
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    if (!name.toUpperCase().startsWith(ENV_PREFIX) || raw === undefined || PROCESS_VARIABLES.has(name.toUpperCase())) continue;
    const segments = name.slice(ENV_PREFIX.length).split('_');
    const target = resolve(schema, segments, 0, []);
    if (target === undefined) {
      ctx.warnings.push(`environment variable ${name} matches no config key; ignored`);
      continue;
    }
    const local: WalkContext = { issues: [], warnings: [] };
    const value = canonicalize(target.node, envValue(target.node, raw), target.path, local);
    for (const issue of local.issues) ctx.issues.push({ path: issue.path, message: `${name}: ${issue.message}` });
    ctx.warnings.push(...local.warnings.map((w) => `${name}: ${w}`));
    if (local.issues.length > 0 || value === undefined) continue;
    setPath(tree, target.path, value);
    applied.push(formatPath(target.path));
  }
  return applied;
}

interface Target {
  path: string[];
  node: SchemaNode;
}

/** Find the key path the segments name, trying every way of grouping them into keys. */
function resolve(node: SchemaNode, segs: string[], from: number, path: string[]): Target | undefined {
  if (from === segs.length) return { path, node };
  if (node.kind !== 'object') return undefined;
  const byLower = new Map(Object.keys(node.fields).map((k) => [k.toLowerCase(), k]));
  for (let to = segs.length; to > from; to--) {
    const key = byLower.get(segs.slice(from, to).join('').toLowerCase());
    if (key === undefined) continue;
    const found = resolve(node.fields[key] as SchemaNode, segs, to, [...path, key]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Turn the env string into what the file would have held at that node. */
function envValue(node: SchemaNode, raw: string): unknown {
  const structured = node.kind === 'object' || node.kind === 'map' || node.kind === 'any' || (node.kind === 'list' && node.item.kind === 'object');
  if (structured || (node.kind === 'list' && raw.trim().startsWith('['))) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw; // canonicalize reports it as the wrong type
    }
  }
  if (node.kind === 'list') {
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  return raw;
}

function setPath(tree: Record<string, unknown>, path: KeyPath, value: unknown): void {
  let cur = tree;
  path.forEach((seg, i) => {
    const key = String(seg);
    if (i === path.length - 1) {
      cur[key] = value;
      return;
    }
    const next = cur[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  });
}
