/**
 * On-demand sync against a real upstream: Debian's docker-registry (distribution 2.8, no
 * referrers API, so the referrers tag schema is used), seeded with skopeo from OCI layouts,
 * behind a counting proxy. Clients pull through skiff with skopeo. Checks byte-for-byte
 * fidelity (OCI, multi-arch, Docker schema 2), referrers and cosign tags, coalescing of
 * concurrent requests, digest hits never reaching upstream, manifestCheckInterval, content
 * mapping, and a broken blob download resumed with a Range request.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { blob, imageConfig, imageManifest, sha256 } from '../helpers/content.ts';
import { artifact, pushArtifact, pushBlob, pushManifest, startDistribution, startProxy, type Distribution, type Proxy } from '../helpers/distribution.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, Skopeo, writePolicy } from '../helpers/tools.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ACCEPT = [OCI_MANIFEST, 'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

describe('on-demand sync from docker-registry', { skip: missing('skopeo', 'docker-registry') }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let upstream: Distribution;
  let proxy: Proxy;
  let skiff: TestRegistry;
  let skopeo: Skopeo;
  const digests = { single: '', multi: '', docker: '' };
  let signature: ReturnType<typeof artifact>;
  let sbom: ReturnType<typeof artifact>;
  let cosignSig: ReturnType<typeof artifact>;

  before(async () => {
    tmp = await tempDir('skiff-sync-od-');
    skopeo = new Skopeo(await writePolicy(tmp.dir));
    upstream = await startDistribution(tmp.dir);
    const up = `docker://${upstream.hostPort}`;
    // Images: single-arch OCI, a two-arch index, a Docker schema 2 image.
    digests.single = await makeOciLayout(join(tmp.dir, 'single'), { tag: 'v1', layers: 3, seed: 'single' });
    digests.multi = await makeOciLayout(join(tmp.dir, 'multi'), { tag: 'v1', arches: ['amd64', 'arm64'], seed: 'multi' });
    await makeOciLayout(join(tmp.dir, 'docker'), { tag: 'v1', seed: 'docker' });
    await Promise.all([
      skopeo.copy(`oci:${join(tmp.dir, 'single')}:v1`, `${up}/lib/single:v1`),
      skopeo.copy(`oci:${join(tmp.dir, 'multi')}:v1`, `${up}/lib/multi:v1`, ['--all']),
      skopeo.copy(`oci:${join(tmp.dir, 'docker')}:v1`, `${up}/lib/docker:v1`, ['--format', 'v2s2']),
      skopeo.copy(`oci:${join(tmp.dir, 'single')}:v1`, `${up}/lib/concurrent:v1`),
      skopeo.copy(`oci:${join(tmp.dir, 'single')}:v1`, `${up}/lib/interval:v1`),
    ]);
    digests.docker = sha256(await skopeo.raw(`${up}/lib/docker:v1`));
    // A signature and an SBOM referring to lib/single:v1, published the way a registry
    // without the referrers API needs (the referrers tag schema), and a cosign `.sig` tag.
    const subject = { digest: digests.single, size: (await readFile(join(tmp.dir, 'single/blobs/sha256', digests.single.slice(7)))).length, mediaType: OCI_MANIFEST };
    signature = artifact('application/vnd.dev.cosign.artifact.sig.v1+json', 'signature', subject);
    sbom = artifact('application/spdx+json', '{"spdxVersion":"SPDX-2.3"}', subject);
    cosignSig = artifact('application/vnd.dev.cosign.simplesigning.v1+json', 'legacy signature');
    await pushArtifact(upstream.url, 'lib/single', signature);
    await pushArtifact(upstream.url, 'lib/single', sbom);
    const fallback = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [signature, sbom].map((a) => ({ mediaType: a.mediaType, digest: a.digest, size: a.size, artifactType: JSON.parse(a.manifest.toString()).artifactType })) }));
    await pushManifest(upstream.url, 'lib/single', digests.single.replace(':', '-'), fallback, 'application/vnd.oci.image.index.v1+json');
    await pushArtifact(upstream.url, 'lib/single', cosignSig, `${digests.single.replace(':', '-')}.sig`);

    proxy = await startProxy(upstream.url);
    // node:http engine: skopeo tries TLS first on a plain port, and the uWS engine leaves a
    // TLS ClientHello unanswered, so each skopeo call would wait out its 10 s handshake timeout.
    skiff = await startTestRegistry({
      engine: 'node',
      config: {
        extensions: {
          sync: {
            registries: [
              { urls: [proxy.url], onDemand: true, tlsVerify: false, content: [{ prefix: 'lib/**', destination: '/mirror', stripPrefix: true }] },
              { urls: [proxy.url], onDemand: true, tlsVerify: false },
            ],
          },
        },
      },
    });
  });

  after(async () => {
    await skiff?.stop();
    await proxy?.stop();
    await upstream?.stop();
    await tmp?.cleanup();
  });

  const local = () => `docker://${skiff.url.replace('http://', '')}`;

  test('a single-arch image pulled through skiff is byte-identical, with its referrers and cosign tag', async () => {
    const out = join(tmp.dir, 'out-single');
    await skopeo.copy(`${local()}/lib/single:v1`, `oci:${out}:v1`);
    const raw = await skopeo.raw(`${local()}/lib/single:v1`);
    assert.equal(sha256(raw), digests.single, 'manifest bytes kept');
    assert.equal(raw, await readFile(join(tmp.dir, 'single/blobs/sha256', digests.single.slice(7)), 'utf8'));
    // Referrers came along (found upstream through the tag schema), served by skiff's API.
    const res = await fetch(`${skiff.url}/v2/lib/single/referrers/${digests.single}`);
    const index = (await res.json()) as { manifests: { digest: string; artifactType: string }[] };
    assert.deepEqual(index.manifests.map((m) => m.digest).sort(), [signature.digest, sbom.digest].sort());
    const tags = (await (await fetch(`${skiff.url}/v2/lib/single/tags/list`)).json()) as { tags: string[] };
    assert.ok(tags.tags.includes(`${digests.single.replace(':', '-')}.sig`), `cosign tag synced: ${tags.tags.join(',')}`);
    assert.equal(sha256(await skopeo.raw(`${local()}/lib/single:${digests.single.replace(':', '-')}.sig`)), cosignSig.digest);
  });

  test('a multi-arch index comes with every child; Docker schema 2 stays Docker schema 2', async () => {
    await skopeo.copy(`${local()}/lib/multi:v1`, `oci:${join(tmp.dir, 'out-multi')}:v1`, ['--all']);
    const raw = await skopeo.raw(`${local()}/lib/multi:v1`);
    assert.equal(sha256(raw), digests.multi);
    for (const child of (JSON.parse(raw) as { manifests: { digest: string }[] }).manifests) {
      assert.ok(skiff.registry.storage.manifests.get('lib/multi', child.digest), `child ${child.digest} stored`);
    }
    const docker = await skopeo.raw(`${local()}/lib/docker:v1`);
    assert.equal(sha256(docker), digests.docker, 'Docker digest kept (no OCI conversion)');
    assert.equal((JSON.parse(docker) as { mediaType: string }).mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  });

  test('16 concurrent requests for an uncached image share one upstream fetch', async () => {
    const before = proxy.seen.length;
    const answers = await Promise.all(Array.from({ length: 16 }, () => fetch(`${skiff.url}/v2/lib/concurrent/manifests/v1`, { headers: { accept: ACCEPT } })));
    for (const r of answers) {
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('docker-content-digest'), digests.single);
      await r.arrayBuffer();
    }
    const seen = proxy.seen.slice(before);
    assert.equal(seen.filter((s) => s.method === 'GET' && s.path === '/v2/lib/concurrent/manifests/v1').length, 1, 'one manifest GET');
    const blobGets = seen.filter((s) => s.path.includes('/blobs/'));
    assert.equal(new Set(blobGets.map((s) => s.path)).size, blobGets.length, 'each blob fetched once');
    assert.equal(blobGets.length, 4, 'config and three layers');
  });

  test('a digest held locally never reaches upstream; tags are re-checked with a HEAD', async () => {
    const before = proxy.seen.length;
    const r = await fetch(`${skiff.url}/v2/lib/single/manifests/${digests.single}`, { headers: { accept: ACCEPT } });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    assert.equal(proxy.seen.length, before, 'no upstream request for a held digest');
    const t = await fetch(`${skiff.url}/v2/lib/single/manifests/v1`, { method: 'HEAD', headers: { accept: ACCEPT } });
    assert.equal(t.status, 200);
    const seen = proxy.seen.slice(before);
    assert.deepEqual(seen.map((s) => `${s.method} ${s.path}`), ['HEAD /v2/lib/single/manifests/v1'], 'a tag is re-validated by one HEAD (no manifestCheckInterval)');
  });

  test('manifestCheckInterval: a tag checked lately is served without asking upstream', async () => {
    const cached = await startTestRegistry({ config: { extensions: { sync: { registries: [{ urls: [proxy.url], onDemand: true, manifestCheckInterval: '1h' }] } } } });
    try {
      const get = () => fetch(`${cached.url}/v2/lib/interval/manifests/v1`, { headers: { accept: ACCEPT } }).then(async (r) => (await r.arrayBuffer(), r.status));
      assert.equal(await get(), 200);
      const before = proxy.seen.length;
      assert.equal(await get(), 200);
      assert.equal(await get(), 200);
      assert.equal(proxy.seen.length, before, 'no upstream traffic within the interval');
    } finally {
      await cached.stop();
    }
  });

  test('onlySigned, syncLegacyCosignTags off, and a referrers request that syncs referrers', async () => {
    const strict = await startTestRegistry({ config: { extensions: { sync: { registries: [{ urls: [proxy.url], onDemand: true, onlySigned: true, syncLegacyCosignTags: false }] } } } });
    try {
      // The referrers API triggers a sync of the referrers alone (the image is not needed).
      const refs = (await (await fetch(`${strict.url}/v2/lib/single/referrers/${digests.single}`)).json()) as { manifests: { digest: string }[] };
      assert.deepEqual(refs.manifests.map((m) => m.digest).sort(), [signature.digest, sbom.digest].sort());
      const signed = await fetch(`${strict.url}/v2/lib/single/manifests/v1`, { headers: { accept: ACCEPT } });
      assert.equal(signed.status, 200, 'a signed image is synced');
      await signed.arrayBuffer();
      const unsigned = await fetch(`${strict.url}/v2/lib/docker/manifests/v1`, { headers: { accept: ACCEPT } });
      assert.equal(unsigned.status, 404, 'an unsigned image is not');
      await unsigned.arrayBuffer();
      const tags = (await (await fetch(`${strict.url}/v2/lib/single/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['v1'], 'no legacy cosign tag when syncLegacyCosignTags is false');
    } finally {
      await strict.stop();
    }
  });

  test('content mapping: mirror/<name> is fetched from lib/<name> (destination + stripPrefix)', async () => {
    const raw = await skopeo.raw(`${local()}/mirror/single:v1`);
    assert.equal(sha256(raw), digests.single);
    assert.ok(proxy.seen.some((s) => s.path === '/v2/lib/single/manifests/v1'));
    assert.ok(!proxy.seen.some((s) => s.path.startsWith('/v2/mirror/')), 'the local name is never asked upstream');
    const miss = await fetch(`${skiff.url}/v2/lib/absent/manifests/v1`);
    assert.equal(miss.status, 404, 'an image upstream lacks is a plain 404');
  });

  test('a blob download cut midway resumes with a Range request', async () => {
    const big = blob(3 * 1024 * 1024 + 123);
    const cfg = imageConfig();
    const m = imageManifest(cfg, [big]);
    await pushBlob(upstream.url, 'lib/big', cfg.data, cfg.digest);
    await pushBlob(upstream.url, 'lib/big', big.data, big.digest);
    await pushManifest(upstream.url, 'lib/big', 'v1', m.data, OCI_MANIFEST);
    proxy.cutNext(new RegExp(`/blobs/${big.digest}`), 1024 * 1024);
    const before = proxy.seen.length;
    const r = await fetch(`${skiff.url}/v2/lib/big/manifests/v1`, { headers: { accept: ACCEPT } });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    const gets = proxy.seen.slice(before).filter((s) => s.path.endsWith(big.digest));
    assert.equal(gets.length, 2, 'one cut download, one resumed');
    assert.match(gets[1]!.range ?? '', /^bytes=\d+-$/);
    assert.ok(Number(/=(\d+)-/.exec(gets[1]!.range!)![1]) >= 512 * 1024, 'resumed from where it broke, not from 0');
    const b = await fetch(`${skiff.url}/v2/lib/big/blobs/${big.digest}`);
    assert.equal(sha256(Buffer.from(await b.arrayBuffer())), big.digest, 'the stored blob is whole and verified');
  });
});
