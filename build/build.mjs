#!/usr/bin/env node
// Bundles skiff into dist/skiff.mjs (+ dist/skiff-chunks/) with esbuild. Native modules (uWebSockets.js, lmdb)
// stay external: they load their own binaries from node_modules. pino is bundled (skiff uses no
// pino transports, so none of its worker files is needed): resolving and loading its ten CommonJS
// files one by one cost ~10-15 ms of every start.
//   node build/build.mjs            full build
//   node build/build.mjs --minimal  without any extension: src/extensions/enabled.ts is
//                                   replaced by an empty list, so no extension code is bundled
import { build } from 'esbuild';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const minimal = process.argv.includes('--minimal');
const name = minimal ? 'skiff-minimal' : 'skiff';
const outfile = join(top, 'dist', `${name}.mjs`);
// Chunks of earlier builds would pile up beside the new ones: each bundle owns its chunk folder.
await rm(join(top, 'dist', `${name}-chunks`), { recursive: true, force: true });
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
  outdir: join(top, 'dist'),
  entryNames: name,
  // Code behind a dynamic import (the sync extension with undici, auth back ends, tar) goes
  // to chunks loaded when first used: V8 compiles the entry at start, and a single file
  // made every start pay for 1 MiB of undici that most devices never run.
  splitting: true,
  chunkNames: `${name}-chunks/[name]-[hash]`,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'none',
  external: ['lmdb', '@trufflesuite/uws-js-unofficial'],
  // CommonJS pieces inside the ESM bundle (native/uws.cjs) call require(); give them one
  // rooted at the bundle, so node_modules resolves as it does from the sources.
  banner: { js: "import { createRequire as __skiffCreateRequire } from 'node:module'; const require = __skiffCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: minimal ? [withoutExtensions] : [],
  metafile: true,
}).then((r) => {
  // Proof for CI and the curious: which source files went into the bundle.
  const inputs = Object.keys(r.metafile.inputs).filter((f) => f.startsWith('src/'));
  const chunks = Object.keys(r.metafile.outputs).filter((f) => f.includes(`/${name}-chunks/`) && f.endsWith('.mjs'));
  process.stdout.write(`${name}: ${chunks.length} lazily loaded chunk(s)\n`);
  return writeFile(`${outfile}.inputs.json`, JSON.stringify(inputs, null, 1));
});
// One non-ASCII character (esbuild leaves regular expression literals as written) makes V8
// hold the entry's whole source as a two-byte string, twice its size, for the process's life.
const entryText = await readFile(outfile, 'latin1');
const wide = entryText.search(/[^\x00-\x7f]/);
if (wide >= 0) {
  const line = entryText.slice(0, wide).split('\n').length;
  process.stderr.write(`build: ${outfile}:${line} has a non-ASCII character; escape it (\\uXXXX) so the entry stays a one-byte string\n`);
  process.exit(1);
}
const size = (await stat(outfile)).size;
process.stdout.write(`built ${outfile} (${(size / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms\n`);
