#!/usr/bin/env node
// `npm test`: installs the real clients the suite drives (Debian packages, when root),
// then runs every test file with node's test runner: unit, integration, e2e.
// Extra arguments are passed through as file globs, e.g. `npm test -- test/unit/*.test.ts`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const deps = spawnSync('bash', [join(top, 'scripts/install-test-deps.sh')], { stdio: 'inherit' });
if (deps.status !== 0) process.exit(deps.status ?? 1);

const globs = process.argv.slice(2);
const files = globs.length > 0 ? globs : ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'];
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', '--test-timeout=300000', ...files],
  { cwd: top, stdio: 'inherit', env: { ...process.env, SKIFF_TEST: '1' } },
);
process.exit(r.status ?? 1);
