/**
 * skopeo against the built skiff: OCI layout → registry → OCI layout round trips with
 * digests unchanged, inspect, list-tags, delete, multi-arch indexes (--all) and Docker
 * schema 2 manifests. Every image is a real one (gzipped tar layers, config, manifest).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256 } from '../helpers/content.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { startSkiff, type SkiffProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, Skopeo, writePolicy } from '../helpers/tools.ts';

const skip = missing('skopeo');
const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';

/** The digest and media type a layout's index.json gives for its (single) top entry. */
async function layoutTop(dir: string): Promise<{ digest: string; mediaType: string; tag: string | undefined }> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; mediaType: string; annotations?: Record<string, string> }[];
  };
  assert.equal(index.manifests.length, 1, `one entry in ${dir}/index.json`);
  const m = index.manifests[0]!;
  return { digest: m.digest, mediaType: m.mediaType, tag: m.annotations?.['org.opencontainers.image.ref.name'] };
}

// The tests use separate repositories and run side by side, as independent clients would.
describe('skopeo against dist/skiff.mjs', { skip, concurrency: true }, () => {
  let skiff: SkiffProcess;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let skopeo: Skopeo;
  let reg: string;

  before(async () => {
    tmp = await tempDir('skiff-e2e-skopeo-');
    skopeo = new Skopeo(await writePolicy(tmp.dir));
    skiff = await startSkiff();
    reg = `docker://${skiff.hostPort}`;
  });

  after(async () => {
    await skiff?.dispose();
    await tmp?.cleanup();
  });

  test('copy an OCI layout in and back out: the manifest digest is unchanged', async () => {
    const src = join(tmp.dir, 'single');
    const digest = await makeOciLayout(src, { tag: 'v1', layers: 3 });
    await skopeo.copy(`oci:${src}:v1`, `${reg}/skopeo/single:v1`);

    const raw = await skopeo.raw(`${reg}/skopeo/single:v1`);
    assert.equal(sha256(raw), digest, 'served manifest bytes hash to the pushed digest');
    assert.equal(raw, await readFile(join(src, 'blobs/sha256', digest.slice(7)), 'utf8'), 'byte-identical manifest');

    const info = await skopeo.inspect(`${reg}/skopeo/single:v1`);
    assert.equal(info.Digest, digest);
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');
    assert.deepEqual(info.RepoTags, ['v1']);
    assert.equal((info.Layers as string[]).length, 3);

    const back = join(tmp.dir, 'single-back');
    await skopeo.copy(`${reg}/skopeo/single:v1`, `oci:${back}:back`);
    const top = await layoutTop(back);
    assert.deepEqual(top, { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', tag: 'back' });

    // By digest, too.
    assert.equal(sha256(await skopeo.raw(`${reg}/skopeo/single@${digest}`)), digest);
  });

  test('six skopeo pulls of one image at once (shared chunk reads) all get it intact', async () => {
    const src = join(tmp.dir, 'fan-src');
    const digest = await makeOciLayout(src, { tag: 'v1', layers: 1, bigLayerBytes: 3 * 1024 * 1024 });
    await skopeo.copy(`oci:${src}:v1`, `${reg}/skopeo/fan:v1`);
    const dests = Array.from({ length: 6 }, (_, i) => join(tmp.dir, `fan-out-${i}`));
    // skopeo checks every blob against its digest while it pulls: a mixed-up chunk fails the copy.
    await Promise.all(dests.map((d) => skopeo.copy(`${reg}/skopeo/fan:v1`, `oci:${d}:v1`)));
    const big = JSON.parse(await readFile(join(src, 'blobs/sha256', digest.slice(7)), 'utf8')).layers.at(-1) as { digest: string; size: number };
    assert.ok(big.size > 2 * 1024 * 1024, `the big layer is ${big.size} bytes`);
    for (const d of dests) {
      assert.equal((await layoutTop(d)).digest, digest);
      assert.equal(sha256(await readFile(join(d, 'blobs/sha256', big.digest.slice(7)))), big.digest);
    }
  });

  test('list-tags and delete: a deleted manifest is gone, the other tag stays', async () => {
    const a = await makeOciLayout(join(tmp.dir, 'del-a'), { tag: 'a', seed: 'del-a' });
    const b = await makeOciLayout(join(tmp.dir, 'del-b'), { tag: 'b', seed: 'del-b' });
    await skopeo.copy(`oci:${join(tmp.dir, 'del-a')}:a`, `${reg}/skopeo/del:a`);
    await skopeo.copy(`oci:${join(tmp.dir, 'del-b')}:b`, `${reg}/skopeo/del:b`);
    assert.deepEqual((await skopeo.tags(`${reg}/skopeo/del`)).sort(), ['a', 'b']);

    await skopeo.run(['delete', '--tls-verify=false', `${reg}/skopeo/del:a`]);
    assert.deepEqual(await skopeo.tags(`${reg}/skopeo/del`), ['b']);
    const gone = await skopeo.run(['inspect', '--raw', '--tls-verify=false', `${reg}/skopeo/del:a`], { allowFail: true });
    assert.notEqual(gone.code, 0, 'inspect of the deleted tag fails');
    assert.match(gone.stderr, /manifest unknown/i);

    const res = await fetch(`${skiff.url}/v2/skopeo/del/manifests/${a}`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(res.status, 404, 'GET by the deleted digest is 404');
    assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code, 'MANIFEST_UNKNOWN');
    assert.equal(sha256(await skopeo.raw(`${reg}/skopeo/del:b`)), b, 'the other image is intact');
  });

  test('multi-arch index with --all: index digest preserved, every arch pullable', async () => {
    const src = join(tmp.dir, 'multi');
    const digest = await makeOciLayout(src, { tag: 'multi', arches: ['amd64', 'arm64'] });
    await skopeo.copy(`oci:${src}:multi`, `${reg}/skopeo/multi:multi`, ['--all']);

    const raw = await skopeo.raw(`${reg}/skopeo/multi:multi`);
    assert.equal(sha256(raw), digest, 'index digest preserved');
    const index = JSON.parse(raw) as { mediaType: string; manifests: { digest: string; platform: { architecture: string } }[] };
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index.manifests.map((m) => m.platform.architecture), ['amd64', 'arm64']);

    const perArch = index.manifests.map(async (m) => {
      const arch = m.platform.architecture;
      assert.equal(sha256(await skopeo.raw(`${reg}/skopeo/multi@${m.digest}`)), m.digest, `${arch} manifest by digest`);
      const info = await skopeo.inspect(`${reg}/skopeo/multi:multi`, ['--override-arch', arch, '--override-os', 'linux']);
      assert.equal(info.Architecture, arch, `${arch} resolved through the index`);
      // A single arch out of the index, as a plain image, into a layout.
      const one = join(tmp.dir, `multi-${arch}`);
      await skopeo.run(['--override-arch', arch, 'copy', '--quiet', '--src-tls-verify=false', `${reg}/skopeo/multi:multi`, `oci:${one}:x`]);
      assert.equal((await layoutTop(one)).digest, m.digest);
    });
    const back = join(tmp.dir, 'multi-back');
    await Promise.all([...perArch, skopeo.copy(`${reg}/skopeo/multi:multi`, `oci:${back}:multi`, ['--all'])]);
    assert.deepEqual(await layoutTop(back), { digest, mediaType: 'application/vnd.oci.image.index.v1+json', tag: 'multi' });
  });

  test('Docker schema 2: pushed as v2s2, served as v2s2, copied back unchanged', async () => {
    const src = join(tmp.dir, 'docker');
    await makeOciLayout(src, { tag: 'v2' });
    await skopeo.copy(`oci:${src}:v2`, `${reg}/skopeo/docker:v2`, ['--format', 'v2s2']);

    const raw = await skopeo.raw(`${reg}/skopeo/docker:v2`);
    const m = JSON.parse(raw) as { mediaType: string; config: { mediaType: string }; layers: { mediaType: string }[] };
    assert.equal(m.mediaType, DOCKER_V2);
    assert.equal(m.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    assert.ok(m.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
    const digest = sha256(raw);
    assert.equal((await skopeo.inspect(`${reg}/skopeo/docker:v2`)).Digest, digest);

    const head = await fetch(`${skiff.url}/v2/skopeo/docker/manifests/v2`, { method: 'HEAD', headers: { Accept: DOCKER_V2 } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), DOCKER_V2);
    assert.equal(head.headers.get('docker-content-digest'), digest);

    // dir: keeps the manifest as served; the bytes must be the ones pushed.
    const dir = join(tmp.dir, 'docker-dir');
    await skopeo.copy(`${reg}/skopeo/docker:v2`, `dir:${dir}`);
    assert.equal(sha256(await readFile(join(dir, 'manifest.json'))), digest);

    // Registry to registry with --preserve-digests, and back to an OCI layout (converted).
    await skopeo.copy(`${reg}/skopeo/docker:v2`, `${reg}/skopeo/docker-copy:v2`, ['--preserve-digests']);
    assert.equal(sha256(await skopeo.raw(`${reg}/skopeo/docker-copy:v2`)), digest);
    const back = join(tmp.dir, 'docker-back');
    await skopeo.copy(`${reg}/skopeo/docker:v2`, `oci:${back}:v2`);
    assert.equal((await layoutTop(back)).mediaType, 'application/vnd.oci.image.manifest.v1+json');
  });
});
