#!/usr/bin/env node
// The `skiff` command of package.json: runs the bundle when built (`npm run build`),
// otherwise the TypeScript sources through tsx, so `npx skiff` works right after `npm ci`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(top, 'dist', 'skiff.mjs');
if (existsSync(bundle) && !process.env.SKIFF_FROM_SOURCE) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(top, 'src', 'main.ts')).href);
}
