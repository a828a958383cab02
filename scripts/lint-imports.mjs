#!/usr/bin/env node
// Holds the module boundaries of docs/architecture: which folders of src/ may import
// which modules. Exits 1 listing every violation. Run by `npm run lint` and the tests.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(top, 'src');

/** [module specifier test, folders (relative to src/) allowed to import it]. */
const PACKAGE_RULES = [
  [(m) => m === 'node:fs' || m === 'node:fs/promises' || m === 'fs', ['storage/layout', 'config', 'platform']],
  [(m) => m === 'lmdb', ['storage/index']],
  [(m) => m.startsWith('@trufflesuite/uws-js-unofficial'), ['http', 'platform/native.ts']],
  [(m) => m === 'systeminformation', ['platform']],
];

/** Folders whose internals only the named folders may reach (others use the facade). */
const INTERNAL_RULES = [
  ['storage/layout', ['storage']],
  ['storage/index', ['storage']],
];

async function* files(dir) {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

const within = (file, places) => places.some((p) => file === p || file.startsWith(`${p}/`));
const problems = [];
for await (const file of files(src)) {
  const rel = relative(src, file);
  const text = await readFile(file, 'utf8');
  for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith('.')) {
      const target = relative(src, resolve(dirname(file), spec));
      if (target.startsWith('..')) {
        if (!target.startsWith('../native/')) problems.push(`${rel}: imports ${spec} from outside src/`);
        continue;
      }
      for (const [inner, allowed] of INTERNAL_RULES) {
        if (within(target, [inner]) && !within(rel, allowed)) problems.push(`${rel}: reaches into ${inner} (use the storage facade)`);
      }
      continue;
    }
    for (const [test, allowed] of PACKAGE_RULES) {
      if (test(spec) && !within(rel, allowed)) problems.push(`${rel}: imports ${spec}, allowed only in ${allowed.join(', ')}`);
    }
  }
}
if (problems.length > 0) {
  process.stderr.write(`module boundaries violated:\n  ${problems.join('\n  ')}\n`);
  process.exit(1);
}
process.stdout.write('module boundaries ok\n');
