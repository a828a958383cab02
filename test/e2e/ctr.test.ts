/**
 * containerd's ctr against the built skiff, over plain HTTP (`--plain-http`): push a
 * multi-arch image imported from an OCI layout, pull it into a fresh namespace (content
 * is isolated per namespace, so every blob is downloaded from skiff) and unpack it with
 * the native snapshotter, pull by digest and all platforms, and pull a Docker schema 2
 * image. The test runs its own containerd; all traffic stays on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256 } from '../helpers/content.ts';
import { startContainerd, type Containerd } from '../helpers/containerd.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { startSkiff, type SkiffProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, run, Skopeo, which, writePolicy } from '../helpers/tools.ts';

interface Index {
  manifests: { digest: string; platform: { architecture: string } }[];
}

/** The rows of `ctr images ls` as {ref, type, digest}. */
async function images(cd: Containerd, ns: string): Promise<{ ref: string; type: string; digest: string }[]> {
  const out = (await cd.ctr(ns, ['images', 'ls'])).stdout.trim().split('\n').slice(1);
  return out.filter(Boolean).map((line) => {
    const [ref = '', type = '', digest = ''] = line.split(/\s+/);
    return { ref, type, digest };
  });
}

describe('ctr (containerd) against dist/skiff.mjs', { skip: missing('ctr', 'containerd') }, () => {
  let skiff: SkiffProcess;
  let cd: Containerd | undefined;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let host: string;
  let indexDigest: string;
  let index: Index;

  before(async () => {
    tmp = await tempDir('skiff-e2e-ctr-');
    skiff = await startSkiff();
    host = skiff.hostPort;
    await mkdir(join(tmp.dir, 'containerd'));
    cd = await startContainerd(join(tmp.dir, 'containerd'));
  });

  after(async () => {
    await cd?.stop();
    await skiff?.dispose();
    await tmp?.cleanup();
  });

  test('ctr images push --plain-http of a two-arch image imported from an OCI layout', async () => {
    const layout = join(tmp.dir, 'layout');
    indexDigest = await makeOciLayout(layout, { tag: 'v1', arches: ['amd64', 'arm64'], seed: 'ctr' });
    index = JSON.parse(await readFile(join(layout, 'blobs/sha256', indexDigest.slice(7)), 'utf8')) as Index;
    await run('tar', ['-C', layout, '-cf', join(tmp.dir, 'layout.tar'), '.']);
    await cd!.ctr('push', ['images', 'import', '--all-platforms', '--no-unpack', '--base-name', `${host}/ctr/img`, join(tmp.dir, 'layout.tar')]);
    assert.deepEqual(await images(cd!, 'push'), [{ ref: `${host}/ctr/img:v1`, type: 'application/vnd.oci.image.index.v1+json', digest: indexDigest }]);

    await cd!.ctr('push', ['images', 'push', '--plain-http', `${host}/ctr/img:v1`]);
    const res = await fetch(`${skiff.url}/v2/ctr/img/manifests/v1`, { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), indexDigest, 'skiff serves the index ctr pushed, byte for byte');
    for (const m of index.manifests) {
      const child = await fetch(`${skiff.url}/v2/ctr/img/manifests/${m.digest}`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(child.status, 200, `${m.platform.architecture} manifest pushed`);
    }
  });

  test('ctr images pull --plain-http into a fresh namespace downloads and unpacks', async () => {
    const pulled = await cd!.ctr('pull', ['images', 'pull', '--plain-http', '--http-dump', '--platform', 'linux/amd64', `${host}/ctr/img:v1`]);
    const dump = pulled.stdout + pulled.stderr;
    const amd64 = index.manifests.find((m) => m.platform.architecture === 'amd64')!;
    const manifest = JSON.parse((await cd!.ctr('pull', ['content', 'get', amd64.digest])).stdout) as { config: { digest: string }; layers: { digest: string }[] };
    for (const blob of [manifest.config, ...manifest.layers]) {
      assert.match(dump, new RegExp(`GET /v2/ctr/img/blobs/${blob.digest}`), `${blob.digest} fetched from skiff`);
    }
    assert.deepEqual(await images(cd!, 'pull'), [{ ref: `${host}/ctr/img:v1`, type: 'application/vnd.oci.image.index.v1+json', digest: indexDigest }]);
    const check = (await cd!.ctr('pull', ['images', 'check'])).stdout;
    assert.match(check, /complete/);

    // The native snapshotter keeps each snapshot as a directory; the top one holds both layers.
    const tops: string[] = [];
    for (const id of await readdir(cd!.snapshots)) {
      const etc = join(cd!.snapshots, id, 'etc');
      const files = await readdir(etc).catch(() => [] as string[]);
      if (files.includes('layer1.txt')) tops.push(join(cd!.snapshots, id));
    }
    assert.equal(tops.length, 1, 'one unpacked image');
    assert.equal(await readFile(join(tops[0]!, 'etc/layer0.txt'), 'utf8'), 'ctr amd64 layer 0\n');
    assert.equal(await readFile(join(tops[0]!, 'etc/layer1.txt'), 'utf8'), 'ctr amd64 layer 1\n');
    assert.equal(await readFile(join(tops[0]!, 'data/1/blob.bin'), 'utf8'), 'ctr'.repeat(101));
  });

  test('ctr pulls by digest and with --all-platforms', async () => {
    const arm64 = index.manifests.find((m) => m.platform.architecture === 'arm64')!;
    await cd!.ctr('digest', ['images', 'pull', '--plain-http', '--platform', 'linux/arm64', `${host}/ctr/img@${arm64.digest}`]);
    assert.deepEqual(await images(cd!, 'digest'), [{ ref: `${host}/ctr/img@${arm64.digest}`, type: 'application/vnd.oci.image.manifest.v1+json', digest: arm64.digest }]);

    await cd!.ctr('all', ['images', 'pull', '--plain-http', '--all-platforms', `${host}/ctr/img:v1`]);
    const check = (await cd!.ctr('all', ['images', 'check'])).stdout;
    assert.match(check, /complete \(3\/3\)/, check);
  });

  test('ctr pulls a Docker schema 2 image pushed by skopeo', { skip: which('skopeo') ? false : 'skopeo not installed (needed to push the v2s2 image)' }, async () => {
    const layout = join(tmp.dir, 'docker-layout');
    await makeOciLayout(layout, { tag: 'v2', seed: 'docker' });
    const skopeo = new Skopeo(await writePolicy(tmp.dir));
    await skopeo.copy(`oci:${layout}:v2`, `docker://${host}/ctr/docker:v2`, ['--format', 'v2s2']);
    await cd!.ctr('docker', ['images', 'pull', '--plain-http', `${host}/ctr/docker:v2`]);
    const [img] = await images(cd!, 'docker');
    assert.equal(img?.type, 'application/vnd.docker.distribution.manifest.v2+json');
    const res = await fetch(`${skiff.url}/v2/ctr/docker/manifests/v2`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(img?.digest, sha256(Buffer.from(await res.arrayBuffer())));
    assert.match((await cd!.ctr('docker', ['images', 'check'])).stdout, /complete/);
  });
});
