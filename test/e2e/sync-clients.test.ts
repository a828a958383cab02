/**
 * The built bundle as a pull-through cache in front of docker-registry, driven by
 * containerd's ctr over plain HTTP (the uWS engine, as operators run it): a multi-arch
 * image pulled and unpacked through skiff, every platform, then pulled again into a fresh
 * namespace with the upstream stopped.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startContainerd, type Containerd } from '../helpers/containerd.ts';
import { startDistribution, type Distribution } from '../helpers/distribution.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { startSkiff, type SkiffProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, Skopeo, writePolicy } from '../helpers/tools.ts';

describe('ctr pulls through dist/skiff.mjs with on-demand sync', { skip: missing('ctr', 'containerd', 'skopeo', 'docker-registry') }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let upstream: Distribution;
  let skiff: SkiffProcess;
  let cd: Containerd | undefined;
  let digest: string;

  before(async () => {
    tmp = await tempDir('skiff-e2e-sync-');
    upstream = await startDistribution(tmp.dir);
    const layout = join(tmp.dir, 'layout');
    digest = await makeOciLayout(layout, { tag: 'v1', arches: ['amd64', 'arm64'], seed: 'sync-ctr' });
    await new Skopeo(await writePolicy(tmp.dir)).copy(`oci:${layout}:v1`, `docker://${upstream.hostPort}/edge/app:v1`, ['--all']);
    skiff = await startSkiff({ config: { extensions: { sync: { registries: [{ urls: [upstream.url], onDemand: true, upstreamTimeout: '1s' }] } } } });
    await mkdir(join(tmp.dir, 'containerd'));
    cd = await startContainerd(join(tmp.dir, 'containerd'));
  });

  after(async () => {
    await cd?.stop();
    await skiff?.dispose();
    await upstream?.stop();
    await tmp?.cleanup();
  });

  const image = () => `${skiff.hostPort}/edge/app:v1`;

  test('ctr pulls and unpacks a multi-arch image that skiff fetches on demand', async () => {
    await cd!.ctr('first', ['images', 'pull', '--plain-http', '--platform', 'linux/amd64', image()]);
    const ls = (await cd!.ctr('first', ['images', 'ls', '-q'])).stdout.trim();
    assert.equal(ls, image());
    const listed = (await cd!.ctr('first', ['images', 'ls'])).stdout;
    assert.ok(listed.includes(digest), 'the upstream index digest, unchanged');
    await cd!.ctr('all', ['images', 'pull', '--plain-http', '--all-platforms', image()]);
    assert.match((await cd!.ctr('all', ['images', 'check'])).stdout, /complete \(3\/3\)/);
  });

  test('with the upstream stopped, a fresh namespace still pulls everything from skiff', async () => {
    await upstream.stop();
    const t0 = Date.now();
    await cd!.ctr('offline', ['images', 'pull', '--plain-http', '--all-platforms', image()]);
    assert.match((await cd!.ctr('offline', ['images', 'check'])).stdout, /complete \(3\/3\)/);
    assert.ok(Date.now() - t0 < 10_000, 'served without waiting on the dead upstream');
    assert.match(await readFile(skiff.logFile, 'utf8'), /upstream unreachable; serving local content/);
  });
});
