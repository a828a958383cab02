#!/usr/bin/env node
// `npm test`: installs the real clients the suite drives (Debian packages, when root),
// then runs every test file with node's test runner: unit, integration, e2e.
// Extra arguments pick files or directories, e.g. `npm test -- test/unit`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const deps = spawnSync('bash', [join(top, 'scripts/install-test-deps.sh')], { stdio: 'inherit' });
if (deps.status !== 0) process.exit(deps.status ?? 1);

// The sendfile addon is built by `npm ci`; an install with --ignore-scripts skips it.
spawnSync(process.execPath, [join(top, 'scripts/build-native.mjs'), '--if-missing'], { stdio: 'inherit' });

/** Test files under a directory, sorted; Node 20's `--test` takes no glob patterns (21 does). */
function testFiles(dir) {
  return readdirSync(join(top, dir), { recursive: true })
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(dir, f));
}

// Arguments are files as the shell expanded them (`npm test -- test/unit/*.test.ts`) or directories.
const args = process.argv.slice(2);
const files = (args.length > 0 ? args : ['test/unit', 'test/integration', 'test/e2e']).flatMap((a) =>
  a.endsWith('.ts') ? [a] : testFiles(a),
);
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', '--test-timeout=300000', ...files],
  { cwd: top, stdio: 'inherit', env: { ...process.env, SKIFF_TEST: '1' } },
);
process.exit(r.status ?? 1);
