#!/usr/bin/env node
// Bundles skiff into dist/skiff.mjs with esbuild. Native modules (uWebSockets.js, lmdb)
// and pino stay external: they load their own binaries/workers from node_modules.
//   node build/build.mjs            full build
//   node build/build.mjs --minimal  without any extension: src/extensions/enabled.ts is
//                                   replaced by an empty list, so no extension code is bundled
import { build } from 'esbuild';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const minimal = process.argv.includes('--minimal');
const outfile = join(top, 'dist', minimal ? 'skiff-minimal.mjs' : 'skiff.mjs');
await mkdir(dirname(outfile), { recursive: true });

/** Swaps the extension list for an empty one: nothing imports extension folders then. */
const withoutExtensions = {
  name: 'without-extensions',
  setup(b) {
    b.onLoad({ filter: /src[\\/]extensions[\\/]enabled\.ts$/ }, () => ({
      contents: 'export const EXTENSIONS = [];',
      loader: 'ts',
    }));
  },
};

const started = Date.now();
await build({
  entryPoints: [join(top, 'src/main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'none',
  external: ['lmdb', '@trufflesuite/uws-js-unofficial', 'pino'],
  // CommonJS pieces inside the ESM bundle (native/uws.cjs) call require(); give them one
  // rooted at the bundle, so node_modules resolves as it does from the sources.
  banner: { js: "import { createRequire as __skiffCreateRequire } from 'node:module'; const require = __skiffCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: minimal ? [withoutExtensions] : [],
  metafile: true,
}).then((r) => {
  // Proof for CI and the curious: which source files went into the bundle.
  const inputs = Object.keys(r.metafile.inputs).filter((f) => f.startsWith('src/'));
  return writeFile(`${outfile}.inputs.json`, JSON.stringify(inputs, null, 1));
});
const size = (await stat(outfile)).size;
process.stdout.write(`built ${outfile} (${(size / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms\n`);
