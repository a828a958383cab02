/**
 * podman against the built skiff: push a local image, pull it into an empty store and
 * read its files, tag and push it to another repository, push Docker schema 2, and push
 * and pull a multi-arch manifest list. podman runs with its own storage (vfs), run root,
 * tmp dir, registries.conf and signature policy, so nothing depends on the machine's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256 } from '../helpers/content.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { startSkiff, type SkiffProcess } from '../helpers/process.ts';
import { missing, run, Skopeo, which, writePolicy, type RunResult } from '../helpers/tools.ts';

interface Manifest {
  mediaType: string;
  config: { digest: string; mediaType: string };
  layers: unknown[];
  manifests?: { digest: string; platform: { architecture: string } }[];
}

describe('podman against dist/skiff.mjs', { skip: missing('podman') }, () => {
  let skiff: SkiffProcess;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let policy: string;
  let env: NodeJS.ProcessEnv;
  let host: string;

  const podman = (args: string[]): Promise<RunResult> => {
    const d = tmp.dir;
    const isolated = ['--root', join(d, 'storage'), '--runroot', join(d, 'run'), '--tmpdir', join(d, 'tmp'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
    return run('podman', [...isolated, ...args], { env, timeoutMs: 90_000 });
  };
  const push = async (src: string, dest: string, extra: string[] = []): Promise<string> => {
    const digestFile = join(tmp.dir, 'digest');
    await podman(['push', '--quiet', '--tls-verify=false', '--signature-policy', policy, '--digestfile', digestFile, ...extra, src, dest]);
    return (await readFile(digestFile, 'utf8')).trim();
  };
  const pull = async (ref: string, extra: string[] = []): Promise<string> =>
    (await podman(['pull', '--quiet', '--tls-verify=false', '--signature-policy', policy, ...extra, ref])).stdout.trim();
  /** The manifest skiff serves, with the digest of its exact bytes. */
  const served = async (repo: string, ref: string): Promise<{ digest: string; contentType: string; json: Manifest }> => {
    const accept = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
    const res = await fetch(`${skiff.url}/v2/${repo}/manifests/${ref}`, { headers: { Accept: accept.join(', ') } });
    assert.equal(res.status, 200, `GET /v2/${repo}/manifests/${ref}`);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.headers.get('docker-content-digest'), sha256(body));
    return { digest: sha256(body), contentType: res.headers.get('content-type') ?? '', json: JSON.parse(body.toString()) as Manifest };
  };
  /** Mounts a local image (vfs: a plain directory) and reads a file from its rootfs. */
  const readFromImage = async (id: string, path: string): Promise<string> => {
    const mnt = (await podman(['image', 'mount', id])).stdout.trim();
    try {
      return await readFile(join(mnt, path), 'utf8');
    } finally {
      await podman(['image', 'unmount', id]);
    }
  };

  before(async () => {
    // Lower case only: podman names an image pulled from oci:<path> after the path.
    const dir = join(tmpdir(), `skiff-e2e-podman-${randomBytes(6).toString('hex')}`);
    await mkdir(dir);
    tmp = { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
    policy = await writePolicy(tmp.dir);
    await writeFile(join(tmp.dir, 'registries.conf'), '');
    await writeFile(join(tmp.dir, 'containers.conf'), '');
    env = { ...process.env, CONTAINERS_REGISTRIES_CONF: join(tmp.dir, 'registries.conf'), CONTAINERS_CONF: join(tmp.dir, 'containers.conf') };
    skiff = await startSkiff();
    host = skiff.hostPort;
  });

  after(async () => {
    if (tmp) await podman(['image', 'unmount', '--all']).catch(() => undefined);
    await skiff?.dispose();
    await tmp?.cleanup();
  });

  test('push a local image (imported from an OCI layout) into skiff', async () => {
    await makeOciLayout(join(tmp.dir, 'src'), { tag: 'v1', seed: 'podman' });
    const id = await pull(`oci:${join(tmp.dir, 'src')}:v1`);
    await podman(['tag', id, `${host}/podman/src:v1`]);
    const digest = await push(`${host}/podman/src:v1`, `docker://${host}/podman/src:v1`);

    const m = await served('podman/src', 'v1');
    assert.equal(m.digest, digest, 'the digest podman reports is the one skiff serves');
    assert.equal(m.json.config.digest, `sha256:${id}`, 'config (image ID) unchanged');
    assert.equal(m.json.layers.length, 2);
    if (which('skopeo')) {
      const info = await new Skopeo(policy).inspect(`docker://${host}/podman/src:v1`);
      assert.equal(info.Digest, digest);
      assert.deepEqual(info.RepoTags, ['v1']);
      assert.equal(info.Architecture, 'amd64');
    }
  });

  test('pull into an empty store, read the files, tag and push to another repository', async () => {
    await podman(['rmi', '--all', '--force']);
    const id = await pull(`${host}/podman/src:v1`);
    const src = await served('podman/src', 'v1');
    assert.equal(`sha256:${id}`, src.json.config.digest);
    const inspect = JSON.parse((await podman(['image', 'inspect', id])).stdout) as { RepoDigests: string[]; Architecture: string }[];
    assert.ok(inspect[0]!.RepoDigests.includes(`${host}/podman/src@${src.digest}`), inspect[0]!.RepoDigests.join());
    assert.equal(await readFromImage(id, 'etc/layer0.txt'), 'podman amd64 layer 0\n');
    assert.equal(await readFromImage(id, 'data/1/blob.bin'), 'podman'.repeat(101));

    await podman(['tag', `${host}/podman/src:v1`, `${host}/podman/copy:c1`]);
    const digest = await push(`${host}/podman/copy:c1`, `docker://${host}/podman/copy:c1`);
    const copy = await served('podman/copy', 'c1');
    assert.equal(copy.digest, digest);
    assert.equal(copy.json.config.digest, src.json.config.digest);
    if (which('skopeo')) assert.deepEqual(await new Skopeo(policy).tags(`docker://${host}/podman/copy`), ['c1']);
  });

  test('push --format v2s2 stores a Docker schema 2 manifest that pulls back', async () => {
    const digest = await push(`${host}/podman/src:v1`, `docker://${host}/podman/docker:d1`, ['--format', 'v2s2']);
    const m = await served('podman/docker', 'd1');
    assert.equal(m.digest, digest);
    assert.equal(m.contentType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(m.json.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(m.json.config.mediaType, 'application/vnd.docker.container.image.v1+json');

    await podman(['rmi', '--all', '--force']);
    const id = await pull(`${host}/podman/docker:d1`);
    assert.equal(`sha256:${id}`, m.json.config.digest);
    assert.equal(await readFromImage(id, 'etc/layer1.txt'), 'podman amd64 layer 1\n');
  });

  test('manifest push --all of a two-arch list, then pull one platform from it', async () => {
    const layout = join(tmp.dir, 'multi');
    await makeOciLayout(layout, { tag: 'm', arches: ['amd64', 'arm64'], seed: 'list' });
    const ids: Record<string, string> = {};
    for (const arch of ['amd64', 'arm64']) ids[arch] = await pull(`oci:${layout}:m`, ['--arch', arch]);
    const list = `${host}/podman/list:l1`;
    await podman(['manifest', 'create', list]);
    for (const arch of ['amd64', 'arm64']) await podman(['manifest', 'add', list, `containers-storage:${ids[arch]}`]);
    const digestFile = join(tmp.dir, 'list-digest');
    await podman(['manifest', 'push', '--quiet', '--all', '--tls-verify=false', '--digestfile', digestFile, list, `docker://${list}`]);

    const idx = await served('podman/list', 'l1');
    assert.equal(idx.digest, (await readFile(digestFile, 'utf8')).trim());
    assert.deepEqual(idx.json.manifests?.map((m) => m.platform.architecture), ['amd64', 'arm64']);
    for (const m of idx.json.manifests ?? []) {
      const child = await served('podman/list', m.digest);
      assert.equal(child.json.config.digest, `sha256:${ids[m.platform.architecture]}`);
    }

    await podman(['manifest', 'rm', list]);
    await podman(['rmi', '--all', '--force']);
    const arm = await pull(list, ['--arch', 'arm64']);
    assert.equal(arm, ids.arm64, 'the arm64 image came out of the list');
    assert.equal(await readFromImage(arm, 'etc/layer0.txt'), 'list arm64 layer 0\n');
  });
});
