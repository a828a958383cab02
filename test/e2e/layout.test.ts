/**
 * The on-disk truth after real pushes: every repository directory under the registry root
 * is an OCI image layout that independent tools accept. oci-image-tool validates it
 * (`--type image` on a directory autodetects "imageLayout"; this version has no
 * `--type imageLayout`: it answers "unimplemented"), and umoci unpacks each tag into a
 * rootfs holding exactly the fixture files.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkLayout } from '../helpers/layout-check.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { startSkiff, type SkiffProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, run, Skopeo, writePolicy } from '../helpers/tools.ts';

const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';

/** What each pushed tag must unpack to: the seed and arch makeOciLayout wrote into its files. */
interface Expect {
  repo: string;
  tag: string;
  seed: string;
  arch: string;
  layers: number;
}
const IMAGES: Expect[] = [
  { repo: 'layout/single', tag: 'v1', seed: 'single', arch: 'amd64', layers: 3 },
  { repo: 'layout/deep/nested/repo', tag: 'v1', seed: 'nested', arch: 'amd64', layers: 1 },
  { repo: 'layout/two', tag: 'a', seed: 'two-a', arch: 'amd64', layers: 2 },
  { repo: 'layout/two', tag: 'b', seed: 'two-b', arch: 'amd64', layers: 2 },
  // The arm64 manifest of the multi-arch index, tagged on its own (umoci 0.4 cannot pick a
  // platform out of an index: it calls a tag naming an index "ambiguous").
  { repo: 'layout/multi', tag: 'arm64', seed: 'multi', arch: 'arm64', layers: 2 },
];

/** Repository directories under root: those holding an `oci-layout` file (skiff's own `_skiff` aside). */
async function repoDirs(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === 'oci-layout')) found.push(relative(root, dir));
    for (const e of entries) if (e.isDirectory() && e.name !== 'blobs' && e.name !== '_skiff') await walk(join(dir, e.name));
  };
  await walk(root);
  return found.sort();
}

async function indexOf(dir: string): Promise<{ mediaType: string; digest: string; annotations?: Record<string, string> }[]> {
  return (JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { mediaType: string; digest: string }[] }).manifests;
}

describe('on-disk layouts after real pushes', { skip: missing('skopeo') }, () => {
  let skiff: SkiffProcess;
  let tmp: { dir: string; cleanup: () => Promise<void> };

  before(async () => {
    tmp = await tempDir('skiff-e2e-layout-');
    const skopeo = new Skopeo(await writePolicy(tmp.dir));
    skiff = await startSkiff();
    const reg = `docker://${skiff.hostPort}`;
    const push = async (repo: string, tag: string, opts: Parameters<typeof makeOciLayout>[1], extra: string[] = []) => {
      const src = join(tmp.dir, `${repo.replaceAll('/', '_')}-${tag}`);
      const digest = await makeOciLayout(src, { ...opts, tag });
      await skopeo.copy(`oci:${src}:${tag}`, `${reg}/${repo}:${tag}`, extra);
      return { src, digest };
    };
    // Independent pushes run side by side, as several clients would.
    const [multi] = await Promise.all([
      push('layout/multi', 'm', { seed: 'multi', arches: ['amd64', 'arm64'] }, ['--all']),
      push('layout/docker', 'v2s2', { seed: 'docker' }, ['--format', 'v2s2']),
      ...IMAGES.filter((i) => i.repo !== 'layout/multi').map((i) => push(i.repo, i.tag, { seed: i.seed, layers: i.layers })),
    ]);
    const index = JSON.parse(await readFile(join(multi.src, 'blobs/sha256', multi.digest.slice(7)), 'utf8')) as {
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    const arm = index.manifests.find((m) => m.platform.architecture === 'arm64')!.digest;
    await skopeo.copy(`${reg}/layout/multi@${arm}`, `${reg}/layout/multi:arm64`);
  });

  after(async () => {
    await skiff?.dispose();
    await tmp?.cleanup();
  });

  test('every pushed repository is a directory with an OCI layout', async () => {
    assert.deepEqual(await repoDirs(skiff.root), ['layout/deep/nested/repo', 'layout/docker', 'layout/multi', 'layout/single', 'layout/two']);
    for (const repo of await repoDirs(skiff.root)) {
      const layout = JSON.parse(await readFile(join(skiff.root, repo, 'oci-layout'), 'utf8')) as { imageLayoutVersion: string };
      assert.equal(layout.imageLayoutVersion, '1.0.0', repo);
    }
  });

  test('every descriptor in every index.json resolves to a blob with its digest and size', async () => {
    for (const repo of await repoDirs(skiff.root)) assert.deepEqual(await checkLayout(join(skiff.root, repo)), [], repo);
  });

  test('no upload leftovers once every push has completed', async () => {
    for (const repo of await repoDirs(skiff.root)) {
      const uploads = join(skiff.root, repo, '.uploads');
      const left = await readdir(uploads).catch(() => []);
      assert.deepEqual(left, [], `${uploads} still holds files`);
    }
  });

  // Without --ref the tool validates every descriptor in index.json, tagged or not. Its
  // `--ref name=<tag>` filter is unusable here: it deletes from the list it iterates
  // (image/descriptor.go findDescriptor), so two adjacent non-matching entries (an untagged
  // child manifest next to another tag) survive and it reports "is not unique".
  test('oci-image-tool validates every OCI repository (all descriptors in index.json)', { skip: missing('oci-image-tool') }, async () => {
    for (const repo of await repoDirs(skiff.root)) {
      if (repo === 'layout/docker') continue; // below
      const dir = join(skiff.root, repo);
      const tags = (await indexOf(dir)).map((m) => m.annotations?.['org.opencontainers.image.ref.name']).filter((t) => t !== undefined);
      assert.ok(tags.length > 0, `${repo} has tagged manifests`);
      const r = await run('oci-image-tool', ['validate', '--type', 'image', dir]);
      assert.match(r.stdout + r.stderr, /Validation succeeded/, repo);
    }
  });

  test('a Docker schema 2 repository: oci-image-tool objects to the Docker media type and nothing else', { skip: missing('oci-image-tool') }, async () => {
    // Skiff (like zot) keeps Docker manifests as they were pushed, with their own media type,
    // in an OCI layout; this strict validator only knows OCI media types.
    const dir = join(skiff.root, 'layout/docker');
    const entries = await indexOf(dir);
    assert.deepEqual(entries.map((e) => [e.mediaType, e.annotations?.['org.opencontainers.image.ref.name']]), [[DOCKER_V2, 'v2s2']]);
    assert.ok((await stat(join(dir, 'blobs/sha256', entries[0]!.digest.slice(7)))).isFile());
    const r = await run('oci-image-tool', ['validate', '--type', 'image', dir], { allowFail: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid descriptor MediaType \\?"application\/vnd\.docker\.distribution\.manifest\.v2\+json\\?"/);
    assert.match(r.stderr, /\b1 errors detected/, 'that is the only error');
  });

  test('umoci unpacks each tag into a rootfs with the fixture files', { skip: missing('umoci') }, async () => {
    for (const img of IMAGES) {
      const bundle = join(tmp.dir, 'bundles', `${img.repo.replaceAll('/', '_')}-${img.tag}`);
      await run('umoci', ['unpack', '--rootless', '--image', `${join(skiff.root, img.repo)}:${img.tag}`, bundle]);
      const rootfs = join(bundle, 'rootfs');
      for (let i = 0; i < img.layers; i++) {
        assert.equal(await readFile(join(rootfs, `etc/layer${i}.txt`), 'utf8'), `${img.seed} ${img.arch} layer ${i}\n`, `${img.repo}:${img.tag} layer ${i}`);
        assert.equal(await readFile(join(rootfs, `data/${i}/blob.bin`), 'utf8'), img.seed.repeat(100 + i));
      }
      assert.deepEqual((await readdir(join(rootfs, 'etc'))).sort(), Array.from({ length: img.layers }, (_, i) => `layer${i}.txt`));
      const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { process: { args: string[] } };
      assert.deepEqual(config.process.args, ['/bin/sh'], 'runtime config from the image config');
    }
  });
});
