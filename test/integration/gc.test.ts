import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../helpers/client.ts';
import { blob, imageConfig, imageManifest, type Blob } from '../helpers/content.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';

const GC_NOW = { storage: { gc: true, gcDelay: '0s', gcInterval: '24h' } };

async function blobFiles(root: string, repo: string): Promise<string[]> {
  return (await readdir(join(root, repo, 'blobs/sha256')).catch(() => [] as string[])).map((h) => `sha256:${h}`).sort();
}

async function push(c: Client, repo: string, tag: string, layers: Blob[], extra: Record<string, unknown> = {}) {
  const cfg = imageConfig();
  for (const b of [cfg, ...layers]) assert.equal((await c.pushBlob(repo, b)).status, 201);
  const m = imageManifest(cfg, layers, extra);
  assert.equal((await c.pushManifest(repo, tag, m)).status, 201);
  return { cfg, m };
}

test('gc with gcDelay 0 frees exactly the unreachable blobs; stale uploads and empty repositories go', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const audit = join(dir, 'audit.log');
  const reg = await startTestRegistry({ config: { ...GC_NOW, log: { level: 'error', audit } } });
  t.after(() => reg.stop());
  const c = new Client(reg.url);
  const shared = blob(5000);
  const onlyA = blob(6000);
  const a = await push(c, 'gc/repo', 'a', [shared, onlyA]);
  const b = await push(c, 'gc/repo', 'b', [shared, blob(100)]);
  await c.req('POST', '/v2/gc/repo/blobs/uploads/');
  const orphan = blob(777);
  await c.pushBlob('gc/repo', orphan);
  assert.equal((await c.req('DELETE', '/v2/gc/repo/manifests/a')).status, 202, 'untag a');
  const before = await blobFiles(reg.root, 'gc/repo');
  const report = await reg.registry.gc();
  const after = await blobFiles(reg.root, 'gc/repo');
  const bManifest = JSON.parse(b.m.data.toString());
  const reachable = [b.m.digest, bManifest.config.digest, ...bManifest.layers.map((l: { digest: string }) => l.digest)].sort();
  assert.deepEqual(after, [...new Set(reachable)].sort(), 'exactly the blobs b reaches remain');
  assert.ok(before.includes(onlyA.digest) && !after.includes(onlyA.digest));
  assert.ok(!after.includes(orphan.digest));
  assert.equal((await c.req('GET', `/v2/gc/repo/manifests/${a.m.digest}`)).status, 404, 'untagged manifest collected');
  assert.equal(report.manifests, 1);
  assert.equal(report.uploads, 1);
  assert.deepEqual(await readdir(join(reg.root, 'gc/repo/.uploads')), []);
  assert.equal((await c.req('GET', '/v2/gc/repo/manifests/b')).status, 200);
  // Delete everything: the repository directory goes too.
  await c.req('DELETE', `/v2/gc/repo/manifests/${b.m.digest}`);
  const r2 = await reg.registry.gc();
  assert.equal(r2.reposRemoved, 1);
  assert.deepEqual(await readdir(join(reg.root, 'gc')).catch(() => []), []);
  await reg.registry.close();
  const lines = (await readFile(audit, 'utf8')).trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.action === 'gc');
  assert.ok(lines.some((l) => l.kind === 'blob' && l.digest === onlyA.digest));
  assert.ok(lines.some((l) => l.kind === 'repository'));
});

test('gc spares blobs young enough (gcDelay) and anything a dry run looks at', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const config = { storage: { gc: true, gcDelay: '1h', gcInterval: '24h' } };
  let reg = await startTestRegistry({ root: dir, config });
  let c = new Client(reg.url);
  const orphan = blob(100);
  await c.pushBlob('young/repo', orphan);
  const old = blob(200);
  await c.pushBlob('young/repo', old);
  await reg.registry.close();
  // Age one blob past gcDelay; a restart forgets in-memory touches, so the mtime decides.
  const past = new Date(Date.now() - 2 * 3600_000);
  await utimes(join(dir, 'young/repo/blobs/sha256', old.digest.slice(7)), past, past);
  reg = await startTestRegistry({ root: dir, config });
  t.after(() => reg.registry.close());
  c = new Client(reg.url);
  const dry = await reg.registry.gc({ dryRun: true });
  assert.equal(dry.blobs, 1);
  assert.equal((await blobFiles(dir, 'young/repo')).length, 2, 'dry run deletes nothing');
  await reg.registry.gc();
  assert.deepEqual(await blobFiles(dir, 'young/repo'), [orphan.digest]);
});

test('a push of the same layer racing a sweep always survives', async (t) => {
  const reg = await startTestRegistry({ config: GC_NOW });
  t.after(() => reg.stop());
  const c = new Client(reg.url);
  const layer = blob(20_000);
  for (let round = 0; round < 8; round++) {
    const { m } = await push(c, 'race/gc', 'old', [layer]);
    await c.req('DELETE', `/v2/race/gc/manifests/${m.digest}`);
    const sweeping = reg.registry.gc();
    await sleep(round % 4);
    // What a client does: HEAD the layer, upload it only if missing, then push the manifest.
    const head = await c.req('HEAD', `/v2/race/gc/blobs/${layer.digest}`);
    if (head.status !== 200) assert.equal((await c.pushBlob('race/gc', layer)).status, 201, `round ${round}: layer re-upload`);
    const cfg = imageConfig();
    assert.equal((await c.pushBlob('race/gc', cfg)).status, 201, `round ${round}: config upload`);
    const r = await c.pushManifest('race/gc', 'new', imageManifest(cfg, [layer], { annotations: { round: String(round) } }));
    assert.equal(r.status, 201, `round ${round}: manifest push after a racing sweep: ${r.status === 201 ? '' : await r.text()}`);
    await sweeping;
    assert.equal((await c.req('HEAD', `/v2/race/gc/blobs/${layer.digest}`)).status, 200, `round ${round}: layer survives`);
    await c.req('DELETE', '/v2/race/gc/manifests/new');
  }
});

test('retention: keepTags patterns and mostRecentlyPushedCount; referrers without subject only with deleteReferrers', async (t) => {
  const retention = {
    policies: [
      { repositories: ['keep/**'], deleteReferrers: true, keepTags: [{ patterns: ['^v.*'], mostRecentlyPushedCount: 2 }, { patterns: ['^stable$'] }] },
    ],
  };
  const reg = await startTestRegistry({ config: { storage: { gc: true, gcDelay: '0s', gcInterval: '24h', retention } } });
  t.after(() => reg.stop());
  const c = new Client(reg.url);
  for (const tag of ['v1', 'v2', 'v3', 'stable', 'dev']) {
    await push(c, 'keep/app', tag, [blob(50)]);
    await sleep(5);
  }
  const subject = await push(c, 'keep/app', 'tmp', [blob(10)]);
  const empty = blob('{}');
  await c.pushBlob('keep/app', empty);
  const sig = imageManifest(empty, [], { artifactType: 'application/x.sig', subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject.m.digest, size: subject.m.data.length } });
  await c.pushManifest('keep/app', sig.digest, sig);
  // Outside the policy's globs: all tags kept, referrers kept.
  await push(c, 'other/app', 'dev', [blob(20)]);
  await reg.registry.gc();
  const tags = (await (await c.req('GET', '/v2/keep/app/tags/list')).json()) as { tags: string[] };
  assert.deepEqual(tags.tags, ['stable', 'v2', 'v3']);
  assert.equal((await c.req('GET', `/v2/keep/app/manifests/${sig.digest}`)).status, 404, 'referrer of a deleted subject is gone');
  assert.equal((await c.req('GET', '/v2/other/app/manifests/dev')).status, 200);
});
