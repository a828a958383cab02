import { loadConfigObject } from '../../src/config/index.ts';
import { startRegistry, type Registry } from '../../src/app/app.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { tempDir } from './tmp.ts';

/** A registry running in this process on a free loopback port, over a fresh root. */
export interface TestRegistry {
  url: string;
  root: string;
  registry: Registry;
  stop(): Promise<void>;
}

/** Starts skiff in-process. `config` is merged into a zot-style file config. */
export async function startTestRegistry(opts: { engine?: 'uws' | 'node'; config?: Record<string, unknown>; root?: string } = {}): Promise<TestRegistry> {
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
