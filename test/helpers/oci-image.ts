import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256 } from './content.ts';

/** A descriptor as written into a layout. */
interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  annotations?: Record<string, string>;
}

async function putBlob(layout: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
  await writeFile(join(layout, 'blobs/sha256', digest.slice(7)), data);
  return digest;
}

/** A real gzipped tar layer holding `files`, made with the system tar. */
async function makeLayer(files: Record<string, string>): Promise<{ gz: Buffer; diffId: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-layer-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir, 'root', name, '..'), { recursive: true });
      await writeFile(join(dir, 'root', name), content);
    }
    execFileSync('tar', ['--sort=name', '--mtime=2020-01-01', '--owner=0', '--group=0', '--numeric-owner', '-cf', join(dir, 'layer.tar'), '-C', join(dir, 'root'), '.']);
    const tar = await readFile(join(dir, 'layer.tar'));
    return { gz: gzipSync(tar), diffId: sha256(tar) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes one runnable-shaped image (config + layers) into a layout; returns its manifest descriptor. */
async function writeImage(layout: string, arch: string, files: Record<string, string>[]): Promise<Desc> {
  const layers: Desc[] = [];
  const diffIds: string[] = [];
  for (const f of files) {
    const { gz, diffId } = await makeLayer(f);
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await putBlob(layout, gz), size: gz.length });
    diffIds.push(diffId);
  }
  const config = Buffer.from(
    JSON.stringify({
      created: '2020-01-01T00:00:00Z',
      architecture: arch,
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: files.map(() => ({ created: '2020-01-01T00:00:00Z', created_by: 'skiff test fixture' })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await putBlob(layout, config), size: config.length },
      layers,
    }),
  );
  return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: await putBlob(layout, manifest), size: manifest.length, platform: { architecture: arch, os: 'linux' } };
}

/**
 * Writes an OCI image layout at `layout` with one image tagged `tag`: a single-arch
 * image, or (with several `arches`) a multi-arch index over one image per arch.
 * Returns the digest of what `tag` names.
 */
export async function makeOciLayout(layout: string, opts: { tag?: string; arches?: string[]; layers?: number; seed?: string; bigLayerBytes?: number } = {}): Promise<string> {
  const tag = opts.tag ?? 'latest';
  const arches = opts.arches ?? ['amd64'];
  const seed = opts.seed ?? String(Math.random());
  await mkdir(layout, { recursive: true });
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const images: Desc[] = [];
  for (const arch of arches) {
    const files = Array.from({ length: opts.layers ?? 2 }, (_, i) => ({ [`etc/layer${i}.txt`]: `${seed} ${arch} layer ${i}\n`, [`data/${i}/blob.bin`]: `${seed}`.repeat(100 + i) }));
    // Random text gzips to about 3/4 of its size: a layer of many 256 KiB download chunks.
    if (opts.bigLayerBytes) files.push({ 'data/big.b64': randomBytes(opts.bigLayerBytes).toString('base64') });
    images.push(await writeImage(layout, arch, files));
  }
  let top: Desc;
  if (images.length === 1) top = images[0]!;
  else {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: images }));
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: await putBlob(layout, index), size: index.length };
  }
  const { platform: _p, ...plain } = top;
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ ...plain, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
  return top.digest;
}
