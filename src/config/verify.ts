import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { isConfigError } from './errors.ts';
import { loadConfig, type LoadOptions } from './load.ts';
import type { SkiffConfig } from './types.ts';

/** The outcome of `skiff verify <config>`. */
export interface VerifyResult {
  /** False when any message is an error; warnings and unsupported features do not fail. */
  ok: boolean;
  /** One line each, prefixed `error: `, `warning: ` or `unsupported: `. */
  messages: string[];
}

/**
 * Check a config file as `skiff serve` would load it (same loader, same `SKIFF_*` overrides),
 * then check what loading does not touch: the TLS and htpasswd files exist and are readable,
 * the root directories are usable and do not overlap. Never throws for a bad config.
 */
export async function verifyConfig(path: string, env: Record<string, string | undefined> = process.env, options: LoadOptions = {}): Promise<VerifyResult> {
  const messages: string[] = [];
  let config: SkiffConfig;
  try {
    const loaded = await loadConfig(path, env, options);
    config = loaded.config;
    messages.push(...loaded.warnings.map((w) => `warning: ${w}`));
    messages.push(...loaded.unsupported.map((k) => `unsupported: ${k} is accepted and has no effect (skiff does not support it)`));
  } catch (err) {
    if (!isConfigError(err)) throw err;
    const prefix = err.code === 'CONFIG_INVALID' ? '' : `${path}: `;
    return { ok: false, messages: err.issues.map((i) => `error: ${prefix}${i.message}`) };
  }
  const { errors, warnings } = await fileChecks(config);
  messages.unshift(...errors.map((e) => `error: ${e}`));
  messages.push(...warnings.map((w) => `warning: ${w}`));
  return { ok: errors.length === 0, messages };
}

async function fileChecks(config: SkiffConfig): Promise<{ errors: string[]; warnings: string[] }> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const readable = async (key: string, file: string): Promise<void> => {
    try {
      const s = await stat(file);
      if (!s.isFile()) errors.push(`${key}: ${file} is not a file`);
      else await access(file, constants.R_OK);
    } catch (err) {
      errors.push(`${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const { tls, auth } = config.http;
  if (tls !== undefined) {
    if (tls.cert !== '') await readable('http.tls.cert', tls.cert);
    if (tls.key !== '') await readable('http.tls.key', tls.key);
    if (tls.cacert !== undefined) await readable('http.tls.cacert', tls.cacert);
  }
  if (auth?.htpasswd !== undefined) await readable('http.auth.htpasswd.path', auth.htpasswd.path);

  const stores = [['storage', config.storage] as const, ...Object.entries(config.storage.subPaths).map(([p, s]) => [`storage.subPaths[${JSON.stringify(p)}]`, s] as const)];
  for (const [key, store] of stores) {
    if (store.storageDriver !== undefined) continue; // the directory only holds local caches then
    const problem = await directoryProblem(store.rootDirectory);
    if (problem === undefined) continue;
    // A directory the verifying user cannot write may be fine for the service user: warn only.
    (problem.fatal ? errors : warnings).push(`${key}.rootDirectory: ${problem.text}`);
  }
  // Two local stores sharing or nesting a root would see each other's blobs (zot refuses too).
  const local = stores.filter(([, s]) => s.storageDriver === undefined);
  for (let i = 0; i < local.length; i++) {
    for (let j = i + 1; j < local.length; j++) {
      const [ka, a] = local[i] as (typeof local)[number];
      const [kb, b] = local[j] as (typeof local)[number];
      if (overlaps(a.rootDirectory, b.rootDirectory)) errors.push(`${kb}.rootDirectory: ${b.rootDirectory} overlaps ${ka}.rootDirectory ${a.rootDirectory}`);
    }
  }
  return { errors, warnings };
}

/** Undefined when the directory exists writable, or can be created under its nearest existing ancestor. */
async function directoryProblem(dir: string): Promise<{ fatal: boolean; text: string } | undefined> {
  let cur = dir;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = (await stat(cur)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') return { fatal: false, text: `cannot inspect ${cur} (${code ?? (err as Error).message})` };
      const parent = dirname(cur);
      if (parent === cur) return { fatal: true, text: `no existing ancestor of ${dir}` };
      cur = parent;
      continue;
    }
    if (!isDir) return { fatal: true, text: cur === dir ? `${dir} exists and is not a directory` : `${cur} is not a directory, so ${dir} cannot be created` };
    try {
      await access(cur, constants.W_OK);
      return undefined;
    } catch {
      return { fatal: false, text: cur === dir ? `${dir} is not writable by this user` : `${dir} does not exist and ${cur} is not writable by this user` };
    }
  }
}

function overlaps(a: string, b: string): boolean {
  const inside = (x: string, y: string): boolean => {
    const r = relative(y, x);
    return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
  };
  return inside(a, b) || inside(b, a);
}
