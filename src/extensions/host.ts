import type { Logger } from 'pino';
import type { DiscoveredExtension } from '../api/context.ts';
import type { SkiffConfig } from '../config/types.ts';
import type { Route } from '../http/types.ts';
import type { StoredManifest } from '../storage/index.ts';
import type { ExtensionContext, ExtensionDescriptor, ExtensionInstance, LookupHooks } from './sdk.ts';

/** The running extensions, as the app and API see them. */
export interface ExtensionHost {
  readonly names: string[];
  routes(): Route[];
  discover(): DiscoveredExtension[];
  /** Undefined when no running extension hooks lookups (the common, fast path). */
  hooks: Required<LookupHooks> | undefined;
  close(): Promise<void>;
}

/**
 * Starts every extension the build includes and the config enables. A config that
 * enables an extension this build lacks is logged loudly (and reported by verify).
 */
export async function startExtensions(
  available: readonly ExtensionDescriptor[],
  config: SkiffConfig,
  makeContext: (d: ExtensionDescriptor) => ExtensionContext,
  log: Logger,
): Promise<ExtensionHost> {
  const running: { d: ExtensionDescriptor; x: ExtensionInstance }[] = [];
  for (const d of available) {
    if (!d.enabled(config)) continue;
    running.push({ d, x: await d.init(makeContext(d)) });
    log.info({ extension: d.name }, 'extension started');
  }
  // scrub runs in core (a scheduled job); mgmt and apikey are deprecated keys zot ignores.
  const builtIn = new Set([...available.map((d) => d.configKey.split('.')[1]), 'scrub', 'mgmt', 'apikey']);
  for (const [name, section] of Object.entries(config.extensions ?? {})) {
    const on = typeof section === 'object' && section !== null && (section as { enable?: boolean }).enable !== false;
    if (on && !builtIn.has(name)) log.warn({ extension: name }, `extensions.${name} is enabled in the config but this build does not include it`);
  }
  const beforeManifest = async (repo: string, reference: string, local: StoredManifest | null) => {
    for (const { x } of running) await x.hooks?.beforeManifest?.(repo, reference, local);
  };
  const beforeReferrers = async (repo: string, digest: string) => {
    for (const { x } of running) await x.hooks?.beforeReferrers?.(repo, digest);
  };
  return {
    names: running.map((r) => r.d.name),
    routes: () => running.flatMap((r) => r.x.routes ?? []),
    discover: () => running.flatMap((r) => r.x.discover ?? []),
    hooks: running.some((r) => r.x.hooks) ? { beforeManifest, beforeReferrers } : undefined,
    async close() {
      for (const { x } of running.reverse()) await x.close?.();
    },
  };
}
