/** The idle buffer pool (platform/idle-pool.ts): reuse up to its size, and nothing kept after the quiet spell. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdlePool } from '../../src/platform/idle-pool.ts';

test('keeps at most its size, hands kept buffers back, and lets all go after the quiet spell', async () => {
  const pool = new IdlePool(2, 60);
  let made = 0;
  const make = () => (made++, Buffer.alloc(8));
  const [a, b, c] = [pool.take(make), pool.take(make), pool.take(make)];
  assert.equal(made, 3);
  pool.release(a);
  pool.release(b);
  pool.release(c);
  assert.equal(pool.size, 2, 'the third is not kept');
  assert.equal(pool.take(make), b);
  assert.equal(made, 3, 'a kept buffer was reused');
  pool.release(b);
  await new Promise((r) => setTimeout(r, 40));
  pool.release(pool.take(make)); // a release restarts the spell
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(pool.size, 2, 'still within the spell after the last release');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(pool.size, 0, 'all let go after the spell');
});
