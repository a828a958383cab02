import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
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
