import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '../helpers/client.ts';
import { blob, imageConfig, imageManifest } from '../helpers/content.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';

/** Async, so the in-process registry can still answer while the command runs. */
function skiffAsync(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['scripts/skiff.mjs', ...args], { env: { ...process.env, SKIFF_FROM_SOURCE: '1' } });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (status) => resolve({ status, stderr }));
  });
}

function skiff(args: string[]) {
  return spawnSync(process.execPath, ['scripts/skiff.mjs', ...args], { encoding: 'utf8', env: { ...process.env, SKIFF_FROM_SOURCE: '1' } });
}

test('skiff scrub reports a flipped byte and a missing blob; skiff gc runs offline and refuses a live server', async () => {
  const { dir, cleanup } = await tempDir();
  const reg = await startTestRegistry({ root: dir });
  const c = new Client(reg.url);
  const images: Record<string, { layer: ReturnType<typeof blob> }> = {};
  for (const name of ['good', 'flipped', 'missing']) {
    const cfg = imageConfig();
    const layer = blob(10_000);
    await c.pushBlob(`scrub/${name}`, cfg);
    await c.pushBlob(`scrub/${name}`, layer);
    await c.pushManifest(`scrub/${name}`, 'v1', imageManifest(cfg, [layer]));
    images[name] = { layer };
  }
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ storage: { rootDirectory: dir, gcDelay: '0s' }, http: { address: '127.0.0.1', port: String(reg.registry.port) }, log: { level: 'error' } }));
  const refused = await skiffAsync(['gc', config]);
  assert.equal(refused.status, 2, 'gc refuses while the registry serves');
  assert.match(refused.stderr, /stop it first/);
  await reg.registry.close();

  const fh = await open(join(dir, 'scrub/flipped/blobs/sha256', images.flipped!.layer.digest.slice(7)), 'r+');
  const byte = Buffer.alloc(1);
  await fh.read(byte, 0, 1, 5000);
  byte[0] = byte[0]! ^ 0xff;
  await fh.write(byte, 0, 1, 5000);
  await fh.close();
  await rm(join(dir, 'scrub/missing/blobs/sha256', images.missing!.layer.digest.slice(7)));

  const r = skiff(['scrub', config]);
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines.find((l) => l.startsWith('scrub/good:v1'))!, /\bok\b/);
  assert.match(lines.find((l) => l.startsWith('scrub/flipped:v1'))!, new RegExp(`affected\\s+${images.flipped!.layer.digest} content does not match`));
  assert.match(lines.find((l) => l.startsWith('scrub/missing:v1'))!, new RegExp(`affected\\s+${images.missing!.layer.digest} blob missing`));

  const gc = skiff(['gc', config, '--dry-run']);
  assert.equal(gc.status, 0, gc.stderr);
  assert.match(gc.stdout, /would remove: 0 tags, 0 manifests, 0 blobs/);
  await cleanup();
});
