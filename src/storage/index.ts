export { createStorage, type StorageOptions, type StorageInternals } from './create.ts';
export type * from './types.ts';
export type { Page } from './index/index.ts';
export { collectGarbage, type GcReport, type GcSettings } from './gc/index.ts';
export { scrub, type ScrubRow } from './scrub.ts';
