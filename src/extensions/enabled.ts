import type { ExtensionDescriptor } from './sdk.ts';
import { sync } from './sync/descriptor.ts';

/**
 * The extensions this build includes. `npm run build:minimal` replaces this module with
 * an empty list at bundle time (build/build.mjs), so no extension code is bundled.
 * Add an extension here when it lands.
 */
export const EXTENSIONS: readonly ExtensionDescriptor[] = [sync];
