export * from './digest.ts';
export * from './names.ts';
export * from './mediatypes.ts';
export * from './descriptor.ts';
export * from './manifest.ts';
export * from './range.ts';
