/**
 * The addon's running digest (native/sendfile/hash.c through platform/native-hash.ts): the
 * same digests as node:crypto for SHA-256 and SHA-512, whether a chunk is hashed here or on
 * the thread pool, a peek that leaves the hash going on, and the guard against a second
 * update while one runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { nativeHasher } from '../../src/platform/native-hash.ts';
import type { RunningHash } from '../../src/oci/index.ts';
import { nativeHashBinding } from '../../src/platform/native.ts';


/** Makes native hashers, or null when the addon has none. */
function hasherMaker(): ((algorithm: 'sha256' | 'sha512') => RunningHash) | null {
  return nativeHashBinding({}) ? (algorithm) => nativeHasher(algorithm, {})! : null;
}

test('native SHA-256 and SHA-512 match node:crypto, on the pool and inline, and peek goes on', async (t) => {
  const make = hasherMaker();
  if (!make) return t.skip('the native addon is not built');
  for (const algorithm of ['sha256', 'sha512'] as const) {
    const h = make(algorithm);
    const ref = createHash(algorithm);
    for (const size of [0, 1, 1000, 64 * 1024 - 1, 64 * 1024, 700_000, 3_000_000]) {
      const chunk = randomBytes(size);
      ref.update(chunk);
      await h.update(chunk);
      assert.equal(h.peek(), `${algorithm}:${ref.copy().digest('hex')}`);
    }
    assert.equal(h.size, 1 + 1000 + 64 * 1024 - 1 + 64 * 1024 + 700_000 + 3_000_000);
    h.dispose();
  }
});

test('a second update while one runs on the pool is refused, and a freed hash says so', async (t) => {
  const b = nativeHashBinding({});
  if (!b) return t.skip('the native addon is not built');
  const h = b.hashCreate('sha256');
  const running = b.hashUpdate(h, randomBytes(4 * 1024 * 1024), true);
  assert.throws(() => b.hashUpdate(h, Buffer.from('x'), false), /still running/);
  assert.throws(() => b.hashPeek(h), /still running/);
  await running;
  b.hashFree(h);
  assert.throws(() => b.hashPeek(h), /freed/);
});

test('SKIFF_NATIVE_HASH=off turns the native hasher off', () => {
  assert.equal(nativeHasher('sha256', { SKIFF_NATIVE_HASH: 'off' }), null);
});
