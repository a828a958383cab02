import { parseDuration, parseGcTimeWindow } from './duration.ts';
import type { ConfigIssue } from './errors.ts';
import type { SchemaNode } from './schema.ts';

/** A key path: object keys and list indexes. */
export type KeyPath = readonly (string | number)[];

/** Issues and warnings collected while walking one config. */
export interface WalkContext {
  issues: ConfigIssue[];
  warnings: string[];
}

/** Render a key path the way messages show it: `storage.subPaths["/a"].retention.policies[0]`. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A short description of a bad value for messages: strings quoted, containers named. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Walk a parsed config value against its schema node and return the canonical value:
 * object keys matched case-insensitively and renamed to their canonical spelling, scalars
 * weakly coerced as viper/mapstructure do (`"8080"` → 8080, `"true"` → true, `1` → `"1"`),
 * durations turned into milliseconds. Problems go to `ctx.issues` and the value is dropped.
 * Returns `undefined` for absent (null) or invalid values.
 */
export function canonicalize(node: SchemaNode, value: unknown, path: KeyPath, ctx: WalkContext): unknown {
  if (value === null || value === undefined) {
    return node.kind === 'object' && node.nullIsEmpty === true ? {} : undefined;
  }
  const fail = (expected: string): undefined => {
    const where = path.length === 0 ? 'config' : formatPath(path);
    ctx.issues.push({ path: formatPath(path), message: `${where}: ${expected}, got ${describe(value)}` });
    return undefined;
  };
  switch (node.kind) {
    case 'object':
      return isPlainObject(value) ? canonicalObject(node.fields, value, path, ctx) : fail('expected an object (a map of keys)');
    case 'map': {
      if (!isPlainObject(value)) return fail('expected an object (a map of keys)');
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const c = canonicalize(node.value, v, [...path, k], ctx);
        if (c !== undefined) out[k] = c;
      }
      return out;
    }
    case 'any':
      return lowerKeys(value);
    case 'list': {
      // mapstructure's weak typing lets a lone scalar stand for a one-item list.
      const items = Array.isArray(value) ? value : isPlainObject(value) ? undefined : [value];
      if (items === undefined) return fail('expected a list');
      const out: unknown[] = [];
      items.forEach((item, i) => {
        const c = canonicalize(node.item, item, [...path, i], ctx);
        if (c !== undefined) out.push(c);
      });
      return out;
    }
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      return fail('expected a string');
    case 'bool':
      return coerceBool(value) ?? fail('expected a boolean (true or false)');
    case 'int': {
      const n = coerceNumber(value);
      if (n === undefined || !Number.isInteger(n)) return fail(node.min === 0 ? 'expected a whole number ≥ 0' : 'expected a whole number');
      if (node.min !== undefined && n < node.min) return fail(`expected a whole number ≥ ${node.min}`);
      return n;
    }
    case 'number':
      return coerceNumber(value) ?? fail('expected a number');
    case 'port': {
      const n = coerceNumber(value);
      if (n === undefined || !Number.isInteger(n) || n < 0 || n > 65535) {
        return fail('expected a port number 1-65535 (or 0 for any free port)');
      }
      return n;
    }
    case 'duration':
      return canonicalDuration(value, path, ctx) ?? fail('expected a duration such as "1h", "30m", "1h30m" or "500ms"');
    case 'enum': {
      const s = typeof value === 'string' ? value.toLowerCase() : undefined;
      const hit = node.values.find((v) => v.toLowerCase() === s);
      return hit ?? fail(`expected one of ${node.values.map((v) => JSON.stringify(v)).join(', ')}`);
    }
    case 'timeWindow': {
      if (typeof value !== 'string') return fail('expected a window "HH:MM-HH:MM" (24-hour, UTC)');
      const parsed = parseGcTimeWindow(value);
      if (typeof parsed === 'string') return fail(parsed);
      return parsed;
    }
  }
}

function canonicalObject(fields: Record<string, SchemaNode>, value: Record<string, unknown>, path: KeyPath, ctx: WalkContext): Record<string, unknown> {
  const byLower = new Map(Object.keys(fields).map((k) => [k.toLowerCase(), k]));
  const seenAs = new Map<string, string>();
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const name = byLower.get(key.toLowerCase());
    if (name === undefined) {
      const hint = suggest(key, Object.keys(fields));
      const full = formatPath([...path, key]);
      const tail = hint === undefined ? '' : ` (did you mean "${formatPath([...path, hint])}"?)`;
      ctx.issues.push({ path: full, message: `unknown key "${full}"${tail}` });
      continue;
    }
    const earlier = seenAs.get(name);
    if (earlier !== undefined) {
      const full = formatPath([...path, name]);
      ctx.issues.push({ path: full, message: `${full}: set twice (as "${earlier}" and "${key}"); keys are case-insensitive` });
      continue;
    }
    seenAs.set(name, key);
    const c = canonicalize(fields[name] as SchemaNode, v, [...path, name], ctx);
    if (c !== undefined) out[name] = c;
  }
  return out;
}

/** Go's strconv.ParseBool spellings (case-insensitive), plus the numbers 0 and 1. */
function coerceBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value !== 'string') return undefined;
  const s = value.trim().toLowerCase();
  if (s === 'true' || s === 't' || s === '1') return true;
  if (s === 'false' || s === 'f' || s === '0') return false;
  return undefined;
}

function coerceNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(value)) return Number(value);
  return undefined;
}

/**
 * A duration: a Go duration string, or a bare number. zot decodes a bare number straight into
 * Go's `time.Duration`, i.e. as NANOSECONDS; skiff keeps that meaning (so a zot file means the
 * same thing) but warns, because `gcDelay: 3600` almost certainly meant seconds.
 */
function canonicalDuration(value: unknown, path: KeyPath, ctx: WalkContext): number | undefined {
  if (typeof value === 'string') return parseDuration(value);
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  if (value !== 0) {
    ctx.warnings.push(`${formatPath(path)}: the bare number ${value} is read as nanoseconds (as zot does); write a duration such as "1h" or "30s"`);
  }
  return value / 1e6;
}

/** Lower-case object keys recursively, as viper does for maps it passes through. */
function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerKeys);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), lowerKeys(v)]));
}

/** The closest known key by edit distance (with transpositions), if close enough to be a likely typo. */
export function suggest(key: string, candidates: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  let best: string | undefined;
  // Allowed typos grow with the word: 1 edit up to 4 letters, 2 up to 10, 3 beyond.
  let bestDist = (k.length <= 4 ? 1 : k.length <= 10 ? 2 : 3) + 1;
  for (const c of candidates) {
    const d = editDistance(k, c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions (`gcDelya` → 1). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => (d[i] as number[])[j] as number;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(rows - 1, cols - 1);
}
