import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../helpers/client.ts';
import { blob, imageConfig, imageIndex, imageManifest } from '../helpers/content.ts';
import { checkLayout, ociImageToolValidate, repoDirs } from '../helpers/layout-check.ts';
import { startSkiff } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';

const ROUNDS = Number(process.env.SKIFF_CRASH_ROUNDS ?? 12);

/** Pushes, re-tags and deletes across a few repositories until `stop` is set. */
async function workload(c: Client, stop: { done: boolean }, seed: number): Promise<void> {
  const repos = ['crash/a', 'crash/b', 'crash/deep/c'];
  for (let i = 0; !stop.done; i++) {
    const repo = repos[(seed + i) % repos.length]!;
    try {
      const cfg = imageConfig();
      const layers = [blob(1000 + ((i * 7919) % 300_000)), blob(100)];
      for (const b of [cfg, ...layers]) await c.pushBlob(repo, b);
      const m = imageManifest(cfg, layers, { annotations: { i: String(i), seed: String(seed) } });
      await c.pushManifest(repo, `t${i % 4}`, m);
      if (i % 5 === 0) {
        const m2 = imageManifest(cfg, [layers[1]!], { annotations: { j: String(i) } });
        await c.pushManifest(repo, m2.digest, m2);
        await c.pushManifest(repo, `multi${i % 2}`, imageIndex([m, m2]), 'application/vnd.oci.image.index.v1+json');
      }
      if (i % 3 === 0) await c.req('DELETE', `/v2/${repo}/manifests/t${(i + 1) % 4}`);
      if (i % 7 === 0) await c.req('DELETE', `/v2/${repo}/manifests/${m.digest}`);
    } catch {
      // The server was killed under us: expected.
      return;
    }
  }
}

test(`kill -9 at random points of a push/delete/GC workload, ${ROUNDS} times: every repository stays a valid OCI layout`, async () => {
  const { dir, cleanup } = await tempDir('skiff-crash-');
  const config = { storage: { gc: true, gcDelay: '0s', gcInterval: '1s' }, log: { level: 'warn' } };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const skiff = await startSkiff({ root: dir, config });
      const c = new Client(skiff.url);
      const stop = { done: false };
      const runs = [workload(c, stop, round), workload(c, stop, round + 1), workload(c, stop, round + 2)];
      await sleep(150 + Math.floor(Math.random() * 900));
      await skiff.kill();
      stop.done = true;
      await Promise.all(runs);

      for (const repo of await repoDirs(dir)) {
        const problems = await checkLayout(join(dir, repo));
        assert.deepEqual(problems, [], `round ${round}, ${repo}`);
      }
    }
    // After the last crash: a restart serves exactly what the layouts hold.
    const skiff = await startSkiff({ root: dir, config: { log: { level: 'warn' } } });
    const c = new Client(skiff.url);
    for (const repo of await repoDirs(dir)) {
      const v = await ociImageToolValidate(join(dir, repo));
      if (v) assert.ok(v.ok, `oci-image-tool on ${repo}: ${v.output}`);
      const index = JSON.parse(await readFile(join(dir, repo, 'index.json'), 'utf8'));
      for (const d of index.manifests) {
        const tag = d.annotations?.['org.opencontainers.image.ref.name'];
        const r = await c.req('GET', `/v2/${repo}/manifests/${tag ?? d.digest}`);
        assert.equal(r.status, 200, `${repo}:${tag ?? d.digest} served after restart`);
        assert.equal(r.headers.get('docker-content-digest'), d.digest);
      }
      const tags = index.manifests.map((d: { annotations?: Record<string, string> }) => d.annotations?.['org.opencontainers.image.ref.name']).filter(Boolean).sort();
      if (tags.length > 0) {
        const listed = (await (await c.req('GET', `/v2/${repo}/tags/list`)).json()) as { tags: string[] };
        assert.deepEqual(listed.tags, tags, `${repo}: index agrees with index.json`);
      }
    }
    await skiff.dispose();
  } finally {
    await cleanup();
  }
});
