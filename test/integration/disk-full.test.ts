import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '../helpers/client.ts';
import { blob, imageConfig, imageManifest } from '../helpers/content.ts';
import { startTestRegistry } from '../helpers/registry.ts';

/*
 * A real small filesystem: a 24 MiB ext4 image, loop-mounted (needs root, as the test
 * machines run). tmpfs would not do: systeminformation, which watches free space, does
 * not list tmpfs mounts.
 */
let mnt = '';
let img = '';
let mountError: string | undefined;

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-full-'));
  img = join(dir, 'disk.img');
  mnt = join(dir, 'mnt');
  try {
    execFileSync('truncate', ['-s', '24M', img]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', img]);
    execFileSync('mkdir', ['-p', mnt]);
    execFileSync('mount', ['-o', 'loop', img, mnt]);
  } catch (err) {
    mountError = String(err);
  }
});

after(async () => {
  if (!mountError) execFileSync('umount', [mnt]);
  await rm(join(img, '..'), { recursive: true, force: true });
});

test('a disk that fills mid-push: clean 507, partial file removed, stored images intact, reads still served', async (t) => {
  if (mountError) return t.skip(`cannot loop-mount a small filesystem here: ${mountError}`);
  // Floor off: this test is about the write that runs out of space midway.
  const reg = await startTestRegistry({ root: join(mnt, 'store'), config: { storage: { minFreeSpace: '0' } } });
  const c = new Client(reg.url);
  const cfg = imageConfig();
  const layer = blob(2 * 1024 * 1024);
  await c.pushBlob('full/keep', cfg);
  await c.pushBlob('full/keep', layer);
  const m = imageManifest(cfg, [layer]);
  assert.equal((await c.pushManifest('full/keep', 'v1', m)).status, 201);
  const indexBefore = await readFile(join(mnt, 'store/full/keep/index.json'));

  const huge = blob(40 * 1024 * 1024);
  let r = await c.req('POST', '/v2/full/new/blobs/uploads/');
  const loc = r.headers.get('location')!;
  r = await c.req('PATCH', loc, { body: huge.data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(r.status, 507);
  assert.deepEqual(await Client.codes(r), ['INSUFFICIENT_STORAGE']);
  assert.deepEqual(await readdir(join(mnt, 'store/full/new/.uploads')), [], 'partial upload removed');
  r = await c.req('POST', `/v2/full/mono/blobs/uploads/?digest=${huge.digest}`, { body: huge.data });
  assert.equal(r.status, 507);
  assert.deepEqual(await readdir(join(mnt, 'store/full/mono/.uploads')), []);

  assert.deepEqual(await readFile(join(mnt, 'store/full/keep/index.json')), indexBefore, 'index.json untouched');
  r = await c.req('GET', `/v2/full/keep/blobs/${layer.digest}`);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), layer.data, 'stored blob still served');
  assert.equal((await c.req('GET', '/v2/full/keep/manifests/v1')).status, 200);
  // Space is back: pushes work again.
  const small = blob(1000);
  assert.equal((await c.pushBlob('full/new', small)).status, 201);
  await reg.stop();
});

test('below storage.minFreeSpace, new uploads are refused up front while pulls go on', async (t) => {
  if (mountError) return t.skip(`cannot loop-mount a small filesystem here: ${mountError}`);
  const reg = await startTestRegistry({ root: join(mnt, 'floor'), config: { storage: { minFreeSpace: '100MiB' } } });
  const c = new Client(reg.url);
  // The watcher's first sample is taken in the background at start.
  for (let i = 0; i < 50 && !(await c.req('POST', '/v2/floor/x/blobs/uploads/').then((r) => r.status === 507)); i++) await new Promise((res) => setTimeout(res, 100));
  const r = await c.req('POST', '/v2/floor/x/blobs/uploads/');
  assert.equal(r.status, 507);
  const body = (await r.json()) as { errors: { code: string; message: string }[] };
  assert.equal(body.errors[0]?.code, 'INSUFFICIENT_STORAGE');
  assert.match(body.errors[0]!.message, /minFreeSpace/);
  assert.equal((await c.req('GET', '/v2/')).status, 200);
  await reg.stop();
});
