import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, realpath, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isRegistryError } from '../../src/errors/index.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { createStorage } from '../../src/storage/index.ts';
import { RegistryIndex } from '../../src/storage/index/index.ts';
import { blob, chunks, imageConfig, imageIndex, imageManifest, type Blob } from '../helpers/content.ts';
import { tempDir } from '../helpers/tmp.ts';

async function open(root: string, dedupe = true) {
  const s = createStorage({ rootDirectory: root, dedupe, commit: false, maxRepos: 0, log: silentLogger() });
  await s.ready();
  return s;
}

type S = Awaited<ReturnType<typeof open>>;

async function pushImage(s: S, repo: string, tag: string, layers: Blob[] = [blob(1000)]) {
  const cfg = imageConfig();
  for (const b of [cfg, ...layers]) await s.uploads.monolithic(repo, b.digest, chunks(b.data), b.data.length);
  const m = imageManifest(cfg, layers);
  await s.manifests.put(repo, tag, m.data, 'application/vnd.oci.image.manifest.v1+json');
  return { cfg, layers, m };
}

async function rejects(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (err: unknown) => isRegistryError(err) && err.code === code);
}

test('push and pull: blobs, manifest by tag and digest, index.json holds the tag', async () => {
  const { dir, cleanup } = await tempDir();
  const s = await open(dir);
  const { m, layers } = await pushImage(s, 'a/b', 'v1');
  assert.equal(s.manifests.get('a/b', 'v1')?.digest, m.digest);
  assert.deepEqual(s.manifests.get('a/b', m.digest)?.body, m.data);
  const read = await s.blobs.open('a/b', layers[0]!.digest, { start: 10, end: 19 });
  const parts: Buffer[] = [];
  for await (const c of read!.stream) parts.push(c);
  assert.deepEqual(Buffer.concat(parts), layers[0]!.data.subarray(10, 20));
  const index = JSON.parse(await readFile(join(dir, 'a/b/index.json'), 'utf8'));
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], 'v1');
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'a/b/oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  assert.deepEqual(s.catalog.repositories().items, ['a/b']);
  assert.deepEqual(s.catalog.tags('a/b').items, ['v1']);
  await s.close();
  await cleanup();
});

test('chunked upload: in-order chunks verify; out-of-order is 416; wrong digest is DIGEST_INVALID', async () => {
  const { dir, cleanup } = await tempDir();
  const s = await open(dir);
  const b = blob(3000);
  const { id } = await s.uploads.start('r');
  await s.uploads.append('r', id, chunks(b.data.subarray(0, 1000)), { range: { start: 0, end: 999 }, length: 1000 });
  await rejects(s.uploads.append('r', id, chunks(b.data.subarray(500, 1500)), { range: { start: 500, end: 1499 } }), 'RANGE_INVALID');
  await s.uploads.append('r', id, chunks(b.data.subarray(1000, 2000)), {});
  assert.equal((await s.uploads.status('r', id)).offset, 2000);
  await s.uploads.complete('r', id, b.digest, chunks(b.data.subarray(2000)), 1000);
  assert.equal((await s.blobs.stat('r', b.digest))?.size, 3000);
  await rejects(s.uploads.status('r', id), 'BLOB_UPLOAD_UNKNOWN');
  const { id: id2 } = await s.uploads.start('r');
  await rejects(s.uploads.complete('r', id2, blob(5).digest, chunks(Buffer.from('other')), 5), 'DIGEST_INVALID');
  await rejects(s.uploads.status('other', id), 'BLOB_UPLOAD_UNKNOWN');
  await s.close();
  await cleanup();
});

test('manifest referencing a missing blob is MANIFEST_BLOB_UNKNOWN and nothing changes', async () => {
  const { dir, cleanup } = await tempDir();
  const s = await open(dir);
  await pushImage(s, 'r', 'v1');
  const before = await readFile(join(dir, 'r/index.json'));
  const m = imageManifest(imageConfig(), [blob(10)]);
  await rejects(s.manifests.put('r', 'v1', m.data, 'application/vnd.oci.image.manifest.v1+json'), 'MANIFEST_BLOB_UNKNOWN');
  assert.deepEqual(await readFile(join(dir, 'r/index.json')), before);
  await s.close();
  await cleanup();
});

test('delete: by tag keeps the manifest, by digest removes it; referenced blobs and index children refused', async () => {
  const { dir, cleanup } = await tempDir();
  const s = await open(dir);
  const { m, layers } = await pushImage(s, 'r', 'v1');
  await rejects(s.blobs.delete('r', layers[0]!.digest), 'DENIED');
  const idx = imageIndex([m]);
  await s.manifests.put('r', 'multi', idx.data, 'application/vnd.oci.image.index.v1+json');
  await rejects(s.manifests.delete('r', m.digest), 'UNSUPPORTED');
  await s.manifests.delete('r', 'multi');
  assert.equal(s.manifests.get('r', 'multi'), null);
  assert.ok(s.manifests.get('r', idx.digest), 'untagged manifest still reachable by digest');
  await s.manifests.delete('r', idx.digest);
  await s.manifests.delete('r', m.digest);
  assert.equal(s.manifests.get('r', 'v1'), null);
  assert.deepEqual(s.catalog.tags('r').items, []);
  await s.blobs.delete('r', layers[0]!.digest);
  assert.equal(await s.blobs.stat('r', layers[0]!.digest), null);
  const index = JSON.parse(await readFile(join(dir, 'r/index.json'), 'utf8'));
  assert.deepEqual(index.manifests, []);
  await s.close();
  await cleanup();
});

test('moving a tag keeps the old manifest untagged; referrers list subjects and filter', async () => {
  const { dir, cleanup } = await tempDir();
  const s = await open(dir);
  const a = await pushImage(s, 'r', 'v1');
  const b = await pushImage(s, 'r', 'v1');
  assert.equal(s.manifests.get('r', 'v1')?.digest, b.m.digest);
  assert.ok(s.manifests.get('r', a.m.digest));
  const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: b.m.digest, size: b.m.data.length };
  const sig = imageManifest(a.cfg, [], { artifactType: 'application/vnd.example.sig', subject });
  const r = await s.manifests.put('r', sig.digest, sig.data, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(r.subject, b.m.digest);
  assert.deepEqual(s.catalog.referrers('r', b.m.digest).map((d) => d.digest), [sig.digest]);
  assert.deepEqual(s.catalog.referrers('r', b.m.digest, 'application/vnd.example.sig').map((d) => d.artifactType), ['application/vnd.example.sig']);
  assert.deepEqual(s.catalog.referrers('r', b.m.digest, 'other/type'), []);
  await s.close();
  await cleanup();
});

test('dedupe: the same layer in two repositories is one inode; mount links; dedupe off copies', async () => {
  const { dir, cleanup } = await tempDir();
  const s = await open(dir);
  const layer = blob(50_000);
  await pushImage(s, 'one', 'v1', [layer]);
  await pushImage(s, 'two', 'v1', [layer]);
  const p1 = join(dir, 'one/blobs/sha256', layer.digest.slice(7));
  const p2 = join(dir, 'two/blobs/sha256', layer.digest.slice(7));
  assert.equal((await stat(p1)).ino, (await stat(p2)).ino);
  assert.ok(await s.blobs.mount('three', layer.digest, 'one'));
  assert.equal((await stat(join(dir, 'three/blobs/sha256', layer.digest.slice(7)))).ino, (await stat(p1)).ino);
  assert.equal(await s.blobs.mount('three', blob(3).digest, 'one'), false);
  await s.close();
  const s2 = await open(dir, false);
  assert.ok(await s2.blobs.mount('four', layer.digest, 'one'));
  assert.notEqual((await stat(join(dir, 'four/blobs/sha256', layer.digest.slice(7)))).ino, (await stat(p1)).ino);
  await s2.close();
  await cleanup();
});

test('the index is rebuilt from disk: lost index, a changed index.json, a layout dropped in', async () => {
  const { dir, cleanup } = await tempDir();
  let s = await open(dir);
  const { m } = await pushImage(s, 'keep', 'v1');
  const idx = imageIndex([m]);
  await s.manifests.put('keep', 'multi', idx.data, 'application/vnd.oci.image.index.v1+json');
  await s.close();
  // An OCI layout written by another tool: index.json lists only the top-level index.
  await mkdir(join(dir, 'dropped/in'), { recursive: true });
  const { execFileSync } = await import('node:child_process');
  execFileSync('cp', ['-a', join(dir, 'keep/blobs'), join(dir, 'dropped/in/blobs')]);
  await writeFile(join(dir, 'dropped/in/oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(dir, 'dropped/in/index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: idx.digest, size: idx.data.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }),
  );
  s = await open(dir);
  // After a clean close the reconcile runs in the background; settled() waits for it.
  await s.settled();
  assert.equal(s.manifests.get('dropped/in', 'latest')?.digest, idx.digest);
  assert.ok(s.manifests.get('dropped/in', m.digest), 'children of an index are known');
  assert.deepEqual(s.catalog.repositories().items, ['dropped/in', 'keep']);
  await s.close();
  await rm(join(dir, '_skiff'), { recursive: true });
  s = await open(dir);
  assert.equal(s.manifests.get('keep', 'v1')?.digest, m.digest);
  assert.deepEqual(s.catalog.tags('keep').items, ['multi', 'v1']);
  await s.close();
  await rm(join(dir, 'dropped'), { recursive: true });
  s = await open(dir);
  await s.settled();
  assert.deepEqual(s.catalog.repositories().items, ['keep']);
  await s.close();
  await cleanup();
});

test('sha512 blobs and manifests by a sha512 digest', async () => {
  const { dir, cleanup } = await tempDir();
  const s = await open(dir);
  const { createHash } = await import('node:crypto');
  const data = Buffer.from('sha512 content');
  const d = `sha512:${createHash('sha512').update(data).digest('hex')}`;
  await s.uploads.monolithic('r', d, chunks(data), data.length);
  assert.equal((await s.blobs.stat('r', d))?.size, data.length);
  await s.close();
  await cleanup();
});

test('switching dedupe converts an existing store in the background: links made, then broken again', async () => {
  const { dir, cleanup } = await tempDir();
  const layer = blob(40_000);
  let s = await open(dir, false);
  await pushImage(s, 'x', 'v1', [layer]);
  await pushImage(s, 'y', 'v1', [layer]);
  await s.internals.dedupeConversion;
  await s.close();
  const px = join(dir, 'x/blobs/sha256', layer.digest.slice(7));
  const py = join(dir, 'y/blobs/sha256', layer.digest.slice(7));
  assert.notEqual((await stat(px)).ino, (await stat(py)).ino, 'dedupe off: two copies');
  s = await open(dir, true);
  const on = await s.internals.dedupeConversion;
  assert.equal(on?.mode, 'dedupe');
  assert.ok((on?.changed ?? 0) >= 2, 'layer and config linked');
  assert.equal((await stat(px)).ino, (await stat(py)).ino, 'dedupe on: one inode');
  assert.equal(s.manifests.get('y', 'v1')?.digest !== undefined, true);
  await s.close();
  s = await open(dir, true);
  assert.equal(await s.internals.dedupeConversion, null, 'already converted: nothing to do');
  await s.close();
  s = await open(dir, false);
  const off = await s.internals.dedupeConversion;
  assert.equal(off?.mode, 'restore');
  assert.notEqual((await stat(px)).ino, (await stat(py)).ino, 'restored: separate copies again');
  const read = await s.blobs.open('y', layer.digest);
  const parts: Buffer[] = [];
  for await (const c of read!.stream) parts.push(c);
  assert.deepEqual(Buffer.concat(parts), layer.data);
  await s.close();
  await cleanup();
});

test('maxRepos: a push that would create one repository too many is refused with 429', async () => {
  const { dir, cleanup } = await tempDir();
  const s = createStorage({ rootDirectory: dir, dedupe: true, commit: false, maxRepos: 2, log: silentLogger() });
  await s.ready();
  await pushImage(s, 'q1', 'v1');
  await pushImage(s, 'q2', 'v1');
  await assert.rejects(pushImage(s, 'q3', 'v1'), (err: unknown) => isRegistryError(err) && err.code === 'TOOMANYREQUESTS' && err.status === 429);
  await pushImage(s, 'q1', 'v2');
  await s.close();
  await cleanup();
});

test('the read cache never serves a record a write replaced: re-tag, delete by tag and digest, reads in between', async () => {
  const { dir, cleanup } = await tempDir();
  const s = await open(dir);
  const a = await pushImage(s, 'c/r', 'v1', [blob(100)]);
  // Read twice so the second read comes from the cache.
  assert.equal(s.manifests.get('c/r', 'v1')?.digest, a.m.digest);
  assert.equal(s.manifests.get('c/r', 'v1')?.digest, a.m.digest);
  const b = await pushImage(s, 'c/r', 'v1', [blob(200)]);
  assert.equal(s.manifests.get('c/r', 'v1')?.digest, b.m.digest);
  assert.deepEqual(s.manifests.get('c/r', 'v1')?.body, b.m.data);
  await s.manifests.delete('c/r', 'v1');
  assert.equal(s.manifests.get('c/r', 'v1'), null);
  assert.equal(s.manifests.get('c/r', b.m.digest)?.digest, b.m.digest);
  await s.manifests.delete('c/r', b.m.digest);
  assert.equal(s.manifests.get('c/r', b.m.digest), null);
  // Another repository's entries are untouched by these writes.
  const other = await pushImage(s, 'c/other', 'x', [blob(300)]);
  assert.equal(s.manifests.get('c/other', 'x')?.digest, other.m.digest);
  await pushImage(s, 'c/r', 'v2', [blob(400)]);
  assert.equal(s.manifests.get('c/other', 'x')?.digest, other.m.digest);
  await s.close();
  await cleanup();
});

test('the read cache: a read between a write and its commit does not pin the old record', async () => {
  const { dir, cleanup } = await tempDir();
  const index = RegistryIndex.open(dir);
  const rec = (digest: string) => ({ digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 2, taggedAt: 1 });
  await index.write.apply('r', { fingerprint: null, putTags: [['t', rec('sha256:aa')]] });
  assert.equal(index.tag('r', 't')?.digest, 'sha256:aa');
  const pending = index.write.apply('r', { fingerprint: null, putTags: [['t', rec('sha256:bb')]] });
  // Not committed yet: this read sees the old value and may cache it...
  assert.equal(index.tag('r', 't')?.digest, 'sha256:aa');
  await pending;
  // ...but the commit drops it.
  assert.equal(index.tag('r', 't')?.digest, 'sha256:bb');
  await index.close();
  await cleanup();
});

test('dropMappedPages unmaps the index pages this process holds; every record reads back the same', async () => {
  const { dir, cleanup } = await tempDir();
  const index = RegistryIndex.open(dir);
  const rec = (i: number) => ({ digest: `sha256:${i.toString(16).padStart(64, '0')}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: i, taggedAt: 1 });
  for (let batch = 0; batch < 20; batch++) {
    const putTags: [string, ReturnType<typeof rec>][] = [];
    for (let i = batch * 1000; i < (batch + 1) * 1000; i++) putTags.push([`t${i}`, rec(i)]);
    await index.write.apply(`r${batch}`, { fingerprint: null, putTags });
  }
  const file = await realpath(join(dir, 'index.lmdb'));
  // Resident KiB of this process's maps of the index file, from /proc/self/smaps.
  const resident = async () => {
    let total = 0;
    let inFile = false;
    for (const line of (await readFile('/proc/self/smaps', 'utf8')).split('\n')) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inFile = line.trimEnd().endsWith(` ${file}`);
      else if (inFile && line.startsWith('Rss:')) total += Number(line.split(/\s+/)[1]);
    }
    return total;
  };
  const readAll = () => {
    for (let i = 0; i < 20_000; i++) assert.equal(index.tag(`r${Math.floor(i / 1000)}`, `t${i}`)?.size, i);
  };
  readAll();
  const before = await resident();
  assert.ok(before > 1024, `the reads mapped the index: ${before} KiB`);
  assert.ok(index.dropMappedPages() > 0, 'the addon advised the map');
  const after = await resident();
  assert.ok(after < before / 10, `unmapped: ${before} -> ${after} KiB`);
  readAll();
  await index.close();
  await cleanup();
});
