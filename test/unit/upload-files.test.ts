/**
 * Upload session files (storage/layout/uploads.ts) kept open between appends: the next append
 * of a session takes up the file its last one left open, a file that no longer matches the
 * disk (replaced, cut, removed) is let go and the disk wins, and removing or releasing a
 * session closes what was kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, readlink, rename, truncate, writeFile } from 'node:fs/promises';
import { LayoutPaths } from '../../src/storage/layout/paths.ts';
import { PARK_MS, UploadFiles } from '../../src/storage/layout/uploads.ts';
import { nativeDirectIo, type DirectIo } from '../../src/platform/native.ts';
import { tempDir } from '../helpers/tmp.ts';

const MiB = 1024 * 1024;

async function* pieces(data: Buffer, size = 512 * 1024): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, Math.min(data.length, at + size));
}

/** Descriptors of this process open on `path`. */
async function openOn(path: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === path || target === `${path} (deleted)`) n++;
  }
  return n;
}

/** An UploadFiles on a fresh root, counting the files its direct I/O opens. */
async function setup(t: { after(fn: () => Promise<void>): void }) {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const native = nativeDirectIo({});
  const seen = { directOpens: 0 };
  const io: DirectIo | null = native && {
    open(path) {
      seen.directOpens++;
      return native.open(path);
    },
    alignedBuffer: (size, align) => native.alignedBuffer(size, align),
  };
  const uploads = new UploadFiles(new LayoutPaths(dir), () => io);
  await uploads.create('a/b', 'id1');
  return { uploads, path: uploads.path('a/b', 'id1'), seen, direct: io !== null };
}

test('chunks of one session reuse the file its last append left open, and every byte lands in order', async (t) => {
  const { uploads, path, seen, direct } = await setup(t);
  const parts = [randomBytes(3 * MiB + 17), randomBytes(1000), randomBytes(5 * MiB)];
  for (const part of parts) {
    const offset = await uploads.size('a/b', 'id1');
    assert.equal(await uploads.append('a/b', 'id1', pieces(part), null, part.length), part.length);
    assert.equal(await openOn(path), direct ? 2 : 1, `kept open after an append at ${offset}`);
  }
  assert.equal(seen.directOpens, direct ? 1 : 0, 'one O_DIRECT open for the whole session');
  assert.deepEqual(await readFile(path), Buffer.concat(parts));
  await uploads.release('a/b', 'id1');
  assert.equal(await openOn(path), 0, 'released');
});

test('a kept file that no longer matches the disk is let go: the disk wins', async (t) => {
  const { uploads, path } = await setup(t);
  const first = randomBytes(2 * MiB);
  await uploads.append('a/b', 'id1', pieces(first), null, first.length);
  // Cut back behind skiff's back (as a restore from backup might): size() reports the disk.
  await truncate(path, MiB);
  assert.equal(await uploads.size('a/b', 'id1'), MiB);
  assert.equal(await openOn(path), 0, 'the stale file was closed');
  const second = randomBytes(MiB + 5);
  await uploads.append('a/b', 'id1', pieces(second), null, second.length);
  assert.deepEqual(await readFile(path), Buffer.concat([first.subarray(0, MiB), second]));
  // Replaced by another file of the same size: the append (without size() first) notices too.
  const replacement = randomBytes(2 * MiB + 5);
  await writeFile(`${path}.new`, replacement);
  await rename(`${path}.new`, path);
  const third = randomBytes(1000);
  await uploads.append('a/b', 'id1', pieces(third), null, third.length);
  assert.deepEqual(await readFile(path), Buffer.concat([replacement, third]));
});

test('removing a session closes its kept file; a removed session reads as unknown', async (t) => {
  const { uploads, path } = await setup(t);
  const data = randomBytes(2 * MiB);
  await uploads.append('a/b', 'id1', pieces(data), null, data.length);
  assert.ok((await openOn(path)) > 0);
  await uploads.remove('a/b', 'id1');
  assert.equal(await openOn(path), 0);
  assert.equal(await uploads.size('a/b', 'id1'), null);
});

test('a failed append closes the file rather than keeping it', async (t) => {
  const { uploads, path } = await setup(t);
  const data = randomBytes(2 * MiB);
  async function* failing(): AsyncGenerator<Buffer> {
    yield data.subarray(0, MiB);
    throw new Error('client went away');
  }
  await assert.rejects(uploads.append('a/b', 'id1', failing(), null, data.length), /client went away/);
  assert.equal(await openOn(path), 0);
  assert.equal(await uploads.size('a/b', 'id1'), MiB, 'what was taken is kept');
});

test(`a kept file is closed ${PARK_MS} ms after its last append`, async (t) => {
  const { uploads, path } = await setup(t);
  const data = randomBytes(MiB + 1);
  await uploads.append('a/b', 'id1', pieces(data), null, data.length);
  assert.ok((await openOn(path)) > 0);
  await new Promise((r) => setTimeout(r, PARK_MS + 300));
  assert.equal(await openOn(path), 0);
});
