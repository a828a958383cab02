import type { ExtensionDescriptor } from '../sdk.ts';

/**
 * The sync extension as the build lists it. Its implementation (and undici with it) is
 * loaded on `init` only, so a registry that does not sync pays nothing for it at start.
 */
export const sync: ExtensionDescriptor = {
  name: 'sync',
  configKey: 'extensions.sync',
  enabled: (config) => config.extensions?.sync?.enable === true && config.extensions.sync.registries.length > 0,
  async init(ctx) {
    const { startSync } = await import('./index.ts');
    return startSync(ctx, ctx.config.extensions!.sync!);
  },
};
