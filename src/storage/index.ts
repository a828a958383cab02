import { join } from 'node:path';
import { LayoutPaths } from './layout/paths.ts';
export { createStorage, type StorageOptions, type StorageInternals } from './create.ts';
export type * from './types.ts';
export type { Page } from './index/index.ts';
export { collectGarbage, type GcReport, type GcSettings } from './gc/index.ts';
export { scrub, type ScrubRow } from './scrub.ts';
/** OCI layouts outside the root (air-gap import/export, local sync upstreams): the narrow way in. */
export { openOciDir, createOciWriter, listOciLayouts, ociPathKind, type OciDir, type OciWriter } from './layout/external.ts';
/** A file in the root's state directory (`<root>/_skiff/<name>`), for small non-repository state such as API keys. */
export function stateFilePath(rootDirectory: string, name: string): string {
  return join(new LayoutPaths(rootDirectory).stateDir(), name);
}
