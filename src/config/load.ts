import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { canonicalize, type WalkContext } from './canonicalize.ts';
import { EMBEDDED_DEFAULT_CONFIG, EMBEDDED_SOURCE } from './defaults.ts';
import { applyEnvOverrides } from './env.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { findUnsupported } from './features.ts';
import { normalize } from './normalize.ts';
import { CONFIG_SCHEMA } from './schema.ts';
import type { LoadedConfig } from './types.ts';

/** File formats viper (and so zot) reads but skiff does not: named in the error, not guessed at. */
const UNSUPPORTED_FORMATS = new Set(['.toml', '.hcl', '.tfvars', '.ini', '.properties', '.props', '.prop', '.env', '.dotenv']);

/** Options mostly for tests and tools. */
export interface LoadOptions {
  /** Directory relative paths (rootDirectory) are resolved against; default `process.cwd()`. */
  cwd?: string;
}

/**
 * Load, validate and normalize a config.
 *
 * - `path` absent: the embedded default (127.0.0.1:8080, `./data`, level info).
 * - `.json` is read as JSON, `.yaml`/`.yml` as YAML, anything else as JSON then YAML.
 * - Keys match case-insensitively (as zot/viper) and come out in canonical camelCase.
 * - Unknown keys and wrong types are rejected with the key path; all issues are reported at
 *   once in one {@link ConfigError} (`CONFIG_NOT_FOUND`, `CONFIG_PARSE` or `CONFIG_INVALID`).
 * - `SKIFF_*` variables in `env` override keys (see `env.ts` for the mapping).
 * - A relative `rootDirectory` is resolved against the cwd, as zot does (not the file's dir).
 */
export async function loadConfig(path?: string, env: Record<string, string | undefined> = process.env, options: LoadOptions = {}): Promise<LoadedConfig> {
  if (path === undefined) return loadConfigObject(structuredClone(EMBEDDED_DEFAULT_CONFIG), EMBEDDED_SOURCE, env, options);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError('CONFIG_NOT_FOUND', path, [{ path: '', message: `cannot read config file: ${reason}` }], { cause: err });
  }
  const warnings: string[] = [];
  const raw = await parseConfigText(text, path, warnings);
  const loaded = loadConfigObject(raw, path, env, options);
  loaded.warnings.unshift(...warnings);
  return loaded;
}

/**
 * Validate and normalize an already-parsed config object (the file form). Synchronous; what
 * `loadConfig` does after reading the file, exposed for hot reload and tests.
 */
export function loadConfigObject(raw: unknown, source: string, env: Record<string, string | undefined> = {}, options: LoadOptions = {}): LoadedConfig {
  if (raw === null || raw === undefined || (typeof raw === 'object' && !Array.isArray(raw) && Object.keys(raw).length === 0)) {
    // zot refuses a file without any key:value pair too.
    throw new ConfigError('CONFIG_PARSE', source, [{ path: '', message: 'the config is empty (no key: value pairs)' }]);
  }
  const ctx: WalkContext = { issues: [], warnings: [] };
  const tree = (canonicalize(CONFIG_SCHEMA, raw, [], ctx) ?? {}) as Record<string, unknown>;
  applyEnvOverrides(tree, CONFIG_SCHEMA, env, ctx);
  if (ctx.issues.length > 0) throw new ConfigError('CONFIG_INVALID', source, ctx.issues);
  const nctx = { issues: [] as ConfigIssue[], warnings: ctx.warnings, cwd: options.cwd ?? process.cwd() };
  const config = normalize(tree, nctx);
  if (nctx.issues.length > 0) throw new ConfigError('CONFIG_INVALID', source, nctx.issues);
  return { config, source, warnings: nctx.warnings, unsupported: findUnsupported(tree) };
}

/**
 * Parse config text by the file's extension. `warnings` receives YAML parser warnings.
 * @throws ConfigError `CONFIG_PARSE`
 */
export async function parseConfigText(text: string, path: string, warnings: string[] = []): Promise<unknown> {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const ext = extname(path).toLowerCase();
  const fail = (message: string, cause?: unknown): never => {
    throw new ConfigError('CONFIG_PARSE', path, [{ path: '', message }], { cause });
  };
  if (UNSUPPORTED_FORMATS.has(ext)) fail(`${ext.slice(1).toUpperCase()} config files are not supported (zot reads them; skiff reads JSON and YAML)`);
  if (ext === '.json') {
    try {
      return JSON.parse(body) as unknown;
    } catch (err) {
      return fail(`not valid JSON: ${(err as Error).message}`, err);
    }
  }
  if (ext === '.yaml' || ext === '.yml') return parseYaml(body, warnings, fail);
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return parseYaml(body, warnings, (message, cause) => fail(`neither valid JSON nor valid YAML (${message})`, cause));
  }
}

/** The YAML parser is loaded only for YAML files: JSON configs and the embedded default never pay for it. */
async function parseYaml(text: string, warnings: string[], fail: (message: string, cause?: unknown) => never): Promise<unknown> {
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'silent' });
  if (doc.errors.length > 0) return fail(`not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`, doc.errors[0]);
  for (const w of doc.warnings) warnings.push(`YAML: ${w.message}`);
  return doc.toJS({ maxAliasCount: 100 }) as unknown;
}
