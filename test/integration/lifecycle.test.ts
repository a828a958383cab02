import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../helpers/client.ts';
import { blob, imageConfig, imageManifest } from '../helpers/content.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';

test('health probes answer; the audit log records mutating requests only', async () => {
  const { dir, cleanup } = await tempDir();
  const audit = join(dir, 'audit.log');
  const reg = await startTestRegistry({ config: { log: { level: 'error', audit } } });
  const c = new Client(reg.url);
  for (const p of ['/livez', '/readyz', '/startupz']) assert.equal((await c.req('GET', p)).status, 200, p);
  const cfg = imageConfig();
  await c.pushBlob('audited/repo', cfg);
  await c.pushManifest('audited/repo', 'v1', imageManifest(cfg, []));
  await (await c.req('GET', '/v2/audited/repo/manifests/v1')).arrayBuffer();
  await c.req('DELETE', '/v2/audited/repo/manifests/v1');
  await reg.stop();
  await sleep(100);
  const lines = (await readFile(audit, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => `${l.method} ${l.status}`), ['POST 201', 'PUT 201', 'DELETE 202']);
  assert.ok(lines.every((l) => l.reqId && l.path && l.client));
  await cleanup();
});

test('close() lets an in-flight download finish, then refuses new connections; data survives a restart', async () => {
  const { dir, cleanup } = await tempDir();
  let reg = await startTestRegistry({ root: dir });
  let c = new Client(reg.url);
  const big = blob(32 * 1024 * 1024);
  await c.pushBlob('keep/me', big);
  const cfg = imageConfig();
  await c.pushBlob('keep/me', cfg);
  const m = imageManifest(cfg, [big]);
  await c.pushManifest('keep/me', 'v1', m);
  const res = await c.req('GET', `/v2/keep/me/blobs/${big.digest}`);
  const closing = reg.registry.close(5000);
  const body = Buffer.from(await res.arrayBuffer());
  await closing;
  assert.equal(body.length, big.data.length, 'in-flight download completed');
  await assert.rejects(fetch(`${reg.url}/v2/`), 'listener closed');
  reg = await startTestRegistry({ root: dir });
  c = new Client(reg.url);
  const r = await c.req('GET', '/v2/keep/me/manifests/v1');
  assert.equal(r.headers.get('docker-content-digest'), m.digest);
  await reg.registry.close(1000);
  await cleanup();
});

test('after a clean stop the index is trusted at start and reconciled in the background; a layout copied in meanwhile is found, one removed is forgotten', async () => {
  const { dir, cleanup } = await tempDir();
  let reg = await startTestRegistry({ root: dir });
  const c1 = new Client(reg.url);
  const cfg = imageConfig();
  await c1.pushBlob('orig/app', cfg);
  const layer = blob(5000);
  await c1.pushBlob('orig/app', layer);
  const m = imageManifest(cfg, [layer]);
  await c1.pushManifest('orig/app', 'v1', m);
  await c1.pushBlob('gone/app', cfg);
  await c1.pushBlob('gone/app', layer);
  assert.equal((await c1.pushManifest('gone/app', 'v1', m)).status, 201);
  await reg.registry.close(1000);
  // While stopped: a layout copied in under a new name, another repository deleted.
  await cp(join(dir, 'orig/app'), join(dir, 'copied/app'), { recursive: true });
  await rm(join(dir, 'gone'), { recursive: true });
  reg = await startTestRegistry({ root: dir });
  const c2 = new Client(reg.url);
  // The first request may come before the background reconcile is done: a miss waits for it.
  const r = await c2.req('GET', '/v2/copied/app/manifests/v1');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('docker-content-digest'), m.digest);
  assert.equal((await c2.req('GET', '/v2/copied/app/tags/list')).status, 200);
  await reg.registry.storage.settled();
  assert.equal((await c2.req('GET', '/v2/gone/app/manifests/v1')).status, 404);
  const cat = (await (await c2.req('GET', '/v2/_catalog')).json()) as { repositories: string[] };
  assert.deepEqual(cat.repositories, ['copied/app', 'orig/app']);
  await reg.registry.close(1000);
  await cleanup();
});

test('skiff verify accepts every shipped config and rejects a bad key with its path', async () => {
  const { dir, cleanup } = await tempDir();
  for (const f of ['minimal.json', 'skiff.default.yaml', 'edge-cache.yaml']) {
    const r = spawnSync(process.execPath, ['scripts/skiff.mjs', 'verify', join('configs', f)], { encoding: 'utf8', env: { ...process.env, SKIFF_FROM_SOURCE: '1' } });
    assert.equal(r.status, 0, `${f}: ${r.stdout}${r.stderr}`);
  }
  const bad = join(dir, 'bad.json');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(bad, JSON.stringify({ storage: { rootDirectory: dir, gcDelya: '1h' }, http: { port: '5000' } }));
  const r = spawnSync(process.execPath, ['scripts/skiff.mjs', 'verify', bad], { encoding: 'utf8', env: { ...process.env, SKIFF_FROM_SOURCE: '1' } });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /storage\.gcDelya/);
  assert.match(r.stdout, /gcDelay/);
  await cleanup();
});
