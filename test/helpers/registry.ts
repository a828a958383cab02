import { loadConfigObject } from '../../src/config/index.ts';
import { startRegistry, type Registry } from '../../src/app/app.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { resolve } from 'node:path';
import { tempDir } from './tmp.ts';

/** A registry running in this process on a free loopback port, over a fresh root. */
export interface TestRegistry {
  url: string;
  root: string;
  registry: Registry;
  stop(): Promise<void>;
}

/**
 * Starts skiff in-process. `config` is merged into a zot-style file config.
 * With SKIFF_TEST_BUNDLE=<path to a built bundle> the registry runs as a child process of
 * that bundle instead (CI runs the core API tests against the minimal build this way);
 * `registry` (the in-process handle) is unavailable then.
 */
export async function startTestRegistry(opts: { engine?: 'uws' | 'node'; config?: Record<string, unknown>; root?: string } = {}): Promise<TestRegistry> {
  const bundle = process.env.SKIFF_TEST_BUNDLE;
  if (bundle) {
    const { startSkiff } = await import('./process.ts');
    const child = await startSkiff({ bundle: resolve(bundle), ...opts, config: { log: { level: 'error' }, ...opts.config } });
    return {
      url: child.url,
      root: child.root,
      get registry(): Registry {
        throw new Error('no in-process registry: SKIFF_TEST_BUNDLE runs a child process');
      },
      stop: () => child.dispose(),
    };
  }
  const tmp = opts.root ? null : await tempDir('skiff-reg-');
  const root = opts.root ?? tmp!.dir;
  const base: Record<string, unknown> = {
    distSpecVersion: '1.1.1',
    storage: { rootDirectory: root },
    http: { address: '127.0.0.1', port: '0' },
    log: { level: 'error' },
  };
  for (const [k, v] of Object.entries(opts.config ?? {})) {
    base[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(base[k] as object), ...v } : v;
  }
  const loaded = loadConfigObject(base, '<test>');
  const registry = await startRegistry(loaded, { log: silentLogger(), ...(opts.engine ? { engine: opts.engine } : {}) });
  return {
    url: `http://127.0.0.1:${registry.port}`,
    root,
    registry,
    async stop() {
      await registry.close(2000);
      await tmp?.cleanup();
    },
  };
}

/** The HTTP engines available on this machine (uWS only where its binary loads). */
export async function engines(): Promise<('uws' | 'node')[]> {
  const { loadUws } = await import('../../src/platform/native.ts');
  return loadUws().ok ? ['uws', 'node'] : ['node'];
}
