/**
 * The minimal build (`node build/build.mjs --minimal`) carries no extension code: its
 * bundle inputs hold no `src/extensions/sync/` file (the full build's do), it serves a
 * push and pull, it says loudly that a config's sync section is not in this build, and the
 * core API test suite passes against it as a child process (SKIFF_TEST_BUNDLE).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client } from '../helpers/client.ts';
import { blob, imageConfig, imageManifest } from '../helpers/content.ts';
import { ensureBuilt, startSkiff, type SkiffProcess } from '../helpers/process.ts';

const top = join(dirname(fileURLToPath(import.meta.url)), '../..');
const MINIMAL = join(top, 'dist/skiff-minimal.mjs');

describe('minimal build', () => {
  let skiff: SkiffProcess;

  before(async () => {
    const r = spawnSync(process.execPath, [join(top, 'build/build.mjs'), '--minimal'], { cwd: top, encoding: 'utf8' });
    assert.equal(r.status, 0, `minimal build failed: ${r.stderr}${r.stdout}`);
    skiff = await startSkiff({
      bundle: MINIMAL,
      config: { extensions: { sync: { registries: [{ urls: ['http://127.0.0.1:9'], onDemand: true }] } } },
    });
  });

  after(async () => {
    await skiff?.dispose();
  });

  test('no sync code in the minimal bundle; the full bundle has it', async () => {
    const minimal = JSON.parse(await readFile(`${MINIMAL}.inputs.json`, 'utf8')) as string[];
    assert.ok(minimal.length > 20, 'the inputs list is real');
    assert.deepEqual(minimal.filter((f) => f.startsWith('src/extensions/sync/')), []);
    assert.ok(minimal.includes('src/cli/import.ts'), 'the air-gap commands are core, not sync');
    const bundle = await readFile(MINIMAL, 'utf8');
    assert.ok(!/from ['"]undici['"]|skiff-sync/.test(bundle), 'no undici client in the minimal bundle');
    await ensureBuilt();
    const full = JSON.parse(await readFile(join(top, 'dist/skiff.mjs.inputs.json'), 'utf8')) as string[];
    assert.ok(full.includes('src/extensions/sync/index.ts'), 'the full build includes sync');
  });

  test('push and pull against the minimal bundle; its log names the missing sync', async () => {
    const c = new Client(skiff.url);
    const cfg = imageConfig();
    const layer = blob(64 * 1024);
    for (const b of [cfg, layer]) assert.equal((await c.pushBlob('min/app', b)).status, 201);
    const m = imageManifest(cfg, [layer]);
    assert.equal((await c.pushManifest('min/app', 'v1', m)).status, 201);
    const got = await c.req('GET', '/v2/min/app/manifests/v1', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(got.headers.get('docker-content-digest'), m.digest);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), m.data);
    const b = await c.req('GET', `/v2/min/app/blobs/${layer.digest}`);
    assert.deepEqual(Buffer.from(await b.arrayBuffer()), layer.data);
    // No on-demand sync here: a miss is a plain 404, at once.
    assert.equal((await c.req('GET', '/v2/library/alpine/manifests/latest')).status, 404);
    assert.match(await skiff.logs(), /extensions\.sync is enabled in the config but this build does not include it/);
  });

  test('the core API integration suite passes against the minimal bundle', () => {
    // A fresh test runner: without NODE_TEST_CONTEXT it runs and reports on its own.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', join(top, 'test/integration/api.test.ts')], {
      cwd: top,
      encoding: 'utf8',
      env: { ...env, SKIFF_TEST_BUNDLE: MINIMAL },
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `api.test.ts against the minimal bundle:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
    assert.match(r.stdout, /# pass [1-9]\d*\n# fail 0/, 'the suite really ran');
  });
});
