// Fills a server's root through the API, once per run: the same requests for both servers,
// so each gets its own on-disk layout. Later measurements restart the server on that root.
import { createHash } from 'node:crypto';
import { pool, pushBuffer, mount, putManifest, parallel, pushMonolithic } from './registry-client.mjs';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const repoName = (i) => `bench/r${String(i).padStart(4, '0')}`;
export const TAG_REPO = 'bench/tags';
/** The manifest the HEAD/GET rows read. */
export const HOT = { repo: repoName(0), ref: 't0' };

/** An OCI image manifest of about 1 KiB, distinct per `i`. */
function manifest(config, layer, i) {
  const m = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
    annotations: {
      'org.opencontainers.image.created': '2024-01-01T00:00:00Z',
      'org.opencontainers.image.source': 'https://example.invalid/skiff/bench',
      'dev.skiff.bench.index': String(i),
      'dev.skiff.bench.pad': '',
    },
  };
  const short = Buffer.byteLength(JSON.stringify(m));
  m.annotations['dev.skiff.bench.pad'] = 'x'.repeat(Math.max(0, 1024 - short));
  return Buffer.from(JSON.stringify(m));
}

/**
 * `repos` repositories with `tagsPerRepo` manifests each, plus TAG_REPO with `tagRepoTags`
 * (repos × tagsPerRepo + tagRepoTags manifests in all). Blobs are pushed once and mounted.
 */
export async function seedManifests(origin, { repos, tagsPerRepo, tagRepoTags, concurrency = 16 }) {
  const p = pool(origin, concurrency);
  try {
    const cfgBuf = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layerBuf = createHash('sha512').update('skiff-bench-layer').digest();
    const first = repoName(0);
    const config = { size: cfgBuf.length, digest: await pushBuffer(p, first, cfgBuf) };
    const layer = { size: layerBuf.length, digest: await pushBuffer(p, first, layerBuf) };
    const names = [...Array.from({ length: repos }, (_, i) => repoName(i)), TAG_REPO];
    await parallel(names.length - 1, concurrency, async (k) => {
      const name = names[k + 1];
      await mount(p, name, first, config.digest);
      await mount(p, name, first, layer.digest);
    });
    const jobs = [];
    for (let r = 0; r < repos; r++) for (let t = 0; t < tagsPerRepo; t++) jobs.push([repoName(r), `t${t}`]);
    for (let t = 0; t < tagRepoTags; t++) jobs.push([TAG_REPO, `t${String(t).padStart(4, '0')}`]);
    await parallel(jobs.length, concurrency, async (i) => {
      const [name, tag] = jobs[i];
      await putManifest(p, name, tag, manifest(config, layer, i), OCI_MANIFEST);
    });
    return { manifests: jobs.length, repositories: names.length, manifestBytes: manifest(config, layer, 0).length };
  } finally {
    await p.close();
  }
}

/** Pushes each blob (from BlobSource.next()) into `repo`. */
export async function seedBlobs(origin, repo, blobs, concurrency = 2) {
  const p = pool(origin, concurrency);
  try {
    await parallel(blobs.length, concurrency, (i) => pushMonolithic(p, repo, blobs[i]));
  } finally {
    await p.close();
  }
}
