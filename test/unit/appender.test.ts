/**
 * The upload appender (storage/layout/appender.ts) on a real file system: large appends go by
 * O_DIRECT from aligned bounce buffers with the unaligned head and tail through the page
 * cache, small ones stay buffered, a refused direct write carries on buffered, and every
 * byte taken is in the file afterwards, in order, also when the append fails midway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StreamingHasher, type RunningHash } from '../../src/oci/index.ts';
import { nativeDirectIo, nativeHashBinding, type DirectIo } from '../../src/platform/native.ts';
import { nativeHasher } from '../../src/platform/native-hash.ts';
import { Appender, DIRECT_AFTER, MAX_DIRECT } from '../../src/storage/layout/appender.ts';
import { tempDir } from '../helpers/tmp.ts';


/** Makes native hashers, or null when the addon has none. */
function hasherMaker(): ((algorithm: 'sha256' | 'sha512') => RunningHash) | null {
  return nativeHashBinding({}) ? (algorithm) => nativeHasher(algorithm, {})! : null;
}

const MiB = 1024 * 1024;

/** A file path in a fresh temp directory, removed after the test. */
async function scratchFile(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  return join(dir, 'upload');
}

/** The addon's direct I/O, counting the files it opened directly (null when not built). */
function countingIo(claim?: Partial<{ memAlign: number; offsetAlign: number }>) {
  const io = nativeDirectIo({});
  if (!io) return null;
  const seen = { opened: 0, direct: 0 };
  const wrapped: DirectIo = {
    open(path) {
      seen.opened++;
      const f = io.open(path);
      if (f) seen.direct++;
      return f && claim ? { ...f, ...claim } : f;
    },
    alignedBuffer: (size, align) => io.alignedBuffer(size, align),
  };
  return { io: wrapped, seen };
}

/** Appends `data` in pieces of the given sizes (cycled), awaiting each as the upload path does. */
async function appendIn(path: string, io: DirectIo | null, data: Buffer, sizes: number[], hasher: RunningHash | null = null, gaps = false): Promise<void> {
  const out = await Appender.open(path, io, hasher);
  try {
    let at = 0;
    for (let i = 0; at < data.length; i++) {
      // As from a socket: the loop turns between pieces.
      if (gaps) await new Promise((r) => setImmediate(r));
      const n = Math.min(sizes[i % sizes.length]!, data.length - at);
      // A fresh copy per piece, overwritten once taken: the appender must not keep a lent chunk.
      const piece = Buffer.from(data.subarray(at, at + n));
      await out.write(piece);
      piece.fill(0xee);
      at += n;
    }
  } catch (err) {
    // As the upload path does: what was taken is kept, and the file and its place are let go.
    await out.abort();
    throw err;
  }
  await out.finish();
}

test('a large append goes direct and the file holds every byte in order, from an unaligned start and again after', async (t) => {
  const c = countingIo();
  if (!c) return t.skip('the native addon is not built');
  const file = await scratchFile(t);
  const head = randomBytes(1000);
  await writeFile(file, head);
  const first = randomBytes(5 * MiB + 777);
  await appendIn(file, c.io, first, [65_536, 524_288, 1_000_003, 4096, 333]);
  assert.equal(c.seen.opened, 1);
  assert.equal(c.seen.direct, 1, 'this file system takes O_DIRECT (ext4 and tmpfs do)');
  const second = randomBytes(3 * MiB + 5);
  await appendIn(file, c.io, second, [524_288]);
  assert.deepEqual(await readFile(file), Buffer.concat([head, first, second]));
});

test('an append no larger than DIRECT_AFTER stays buffered', async (t) => {
  const c = countingIo();
  if (!c) return t.skip('the native addon is not built');
  const file = await scratchFile(t);
  await writeFile(file, '');
  const data = randomBytes(DIRECT_AFTER);
  await appendIn(file, c.io, data, [100_000]);
  assert.equal(c.seen.opened, 0);
  assert.deepEqual(await readFile(file), data);
});

test('a direct write the kernel refuses (EINVAL) is redone buffered and the append carries on', async (t) => {
  // Claiming no alignment makes the first direct write start at an unaligned offset.
  const c = countingIo({ memAlign: 1, offsetAlign: 1 });
  if (!c) return t.skip('the native addon is not built');
  const file = await scratchFile(t);
  const head = randomBytes(1000);
  await writeFile(file, head);
  const data = randomBytes(4 * MiB + 99);
  await appendIn(file, c.io, data, [524_288, 70_000]);
  assert.equal(c.seen.direct, 1);
  assert.deepEqual(await readFile(file), Buffer.concat([head, data]));
});

test('without direct I/O every append is buffered and complete', async (t) => {
  const file = await scratchFile(t);
  await writeFile(file, 'x');
  const data = randomBytes(3 * MiB + 1);
  await appendIn(file, null, data, [524_288]);
  assert.deepEqual(await readFile(file), Buffer.concat([Buffer.from('x'), data]));
});

test('an append that fails midway leaves exactly the bytes taken before the failure', async (t) => {
  const c = countingIo();
  if (!c) return t.skip('the native addon is not built');
  const file = await scratchFile(t);
  await writeFile(file, '');
  const data = randomBytes(10 * MiB + 4321);
  const out = await Appender.open(file, c.io);
  for (let at = 0; at < data.length; at += 300_000) await out.write(data.subarray(at, Math.min(data.length, at + 300_000)));
  // The body broke off here (a client hanging up): what was taken is kept, as before direct I/O.
  await out.abort();
  assert.equal(c.seen.direct, 1);
  assert.deepEqual(await readFile(file), data);
});

test('the running hash sees every byte in order, buffered and direct, on the event loop and natively', async (t) => {
  const c = countingIo();
  const native = hasherMaker();
  if (!c || !native) return t.skip('the native addon is not built');
  const head = randomBytes(777);
  const data = randomBytes(9 * MiB + 4097);
  const want = `sha256:${createHash('sha256').update(head).update(data).digest('hex')}`;
  for (const make of [() => new StreamingHasher('sha256'), () => native('sha256')]) {
    const file = await scratchFile(t);
    await writeFile(file, '');
    const hasher = make();
    // Two appends, the second from an unaligned offset, as two PATCHes of one session.
    await appendIn(file, c.io, head, [500], hasher);
    await appendIn(file, c.io, data, [524_288, 65_536, 1_000_001], hasher);
    assert.equal(await hasher.peek(), want);
    assert.equal(hasher.size, head.length + data.length);
    hasher.dispose();
    assert.deepEqual(await readFile(file), Buffer.concat([head, data]));
  }
  assert.ok(c.seen.direct >= 2, 'the large appends went direct');
});

test('a hash that fails mid-append fails the append (no unhandled rejection) and keeps the file a prefix of what was sent', async (t) => {
  const c = countingIo();
  if (!c) return t.skip('the native addon is not built');
  const file = await scratchFile(t);
  await writeFile(file, '');
  let fed = 0;
  const failing: RunningHash = {
    algorithm: 'sha256',
    get size() {
      return fed;
    },
    update(chunk) {
      fed += chunk.length;
      return fed > 5 * MiB ? Promise.reject(new Error('hash broke')) : Promise.resolve();
    },
    peek: () => null,
    dispose: () => undefined,
  };
  const data = randomBytes(12 * MiB);
  const unhandled: unknown[] = [];
  const note = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', note);
  try {
    await assert.rejects(appendIn(file, c.io, data, [524_288], failing, true), /hash broke/);
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('unhandledRejection', note);
  }
  assert.deepEqual(unhandled, [], 'no promise was left rejected without a handler');
  const stored = await readFile(file);
  assert.ok(stored.equals(data.subarray(0, stored.length)), 'the file holds a prefix of the body');
});

test('a native hash disposed mid-append (a cancelled session) lets the append finish; its digest is then unknown', async (t) => {
  const c = countingIo();
  const native = hasherMaker();
  if (!c || !native) return t.skip('the native addon is not built');
  const file = await scratchFile(t);
  await writeFile(file, '');
  const hasher = native('sha256');
  const data = randomBytes(9 * MiB);
  const out = await Appender.open(file, c.io, hasher, data.length);
  for (let at = 0; at < data.length; at += 524_288) {
    await out.write(data.subarray(at, at + 524_288));
    if (at === 3 * 524_288) hasher.dispose();
  }
  await out.finish();
  assert.equal(hasher.peek(), null);
  assert.deepEqual(await readFile(file), data);
});

test('a direct write that fails (EBADF here) fails the append and cuts the file back to what is known written', async (t) => {
  const c = countingIo();
  if (!c) return t.skip('the native addon is not built');
  const file = await scratchFile(t);
  await writeFile(file, '');
  // A descriptor that cannot be written, passed off as a direct one.
  const { openSync, closeSync } = await import('node:fs');
  const readOnly = openSync(file, 'r');
  const io: DirectIo = { open: () => ({ fd: readOnly, memAlign: 512, offsetAlign: 512 }), alignedBuffer: (size, align) => c.io.alignedBuffer(size, align) };
  const data = randomBytes(10 * MiB);
  await assert.rejects(appendIn(file, io, data, [524_288]), { code: 'EBADF' });
  const stored = await readFile(file);
  // Unknown length: the first DIRECT_AFTER bytes went buffered, the rest failed.
  assert.ok(stored.length <= DIRECT_AFTER + 524_288, `${stored.length} bytes kept`);
  assert.ok(stored.equals(data.subarray(0, stored.length)));
  try {
    closeSync(readOnly);
  } catch {
    // closed by the appender
  }
});

test('at most MAX_DIRECT appends go direct at once; the next writes buffered, and a finished one frees its place', async (t) => {
  const c = countingIo();
  if (!c) return t.skip('the native addon is not built');
  const data = randomBytes(2 * MiB);
  const files = await Promise.all(Array.from({ length: MAX_DIRECT + 1 }, () => scratchFile(t)));
  for (const f of files) await writeFile(f, '');
  const open = await Promise.all(files.map((f) => Appender.open(f, c.io, null, data.length)));
  for (const out of open) await out.write(data.subarray(0, MiB));
  assert.equal(c.seen.direct, MAX_DIRECT, 'the one past the limit did not open a direct descriptor');
  for (const out of open) {
    await out.write(data.subarray(MiB));
    await out.finish();
  }
  for (const f of files) assert.deepEqual(await readFile(f), data);
  const later = await scratchFile(t);
  await writeFile(later, '');
  await appendIn(later, c.io, data, [MiB]);
  assert.equal(c.seen.direct, MAX_DIRECT + 1, 'places are given back when appends finish');
});
