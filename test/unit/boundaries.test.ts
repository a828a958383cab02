import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('module boundaries of the architecture hold (only layout touches fs, only index touches lmdb, ...)', () => {
  const r = spawnSync(process.execPath, ['scripts/lint-imports.mjs'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
