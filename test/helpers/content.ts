import { createHash, randomBytes } from 'node:crypto';

/** Test content: a blob with its digest. */
export interface Blob {
  data: Buffer;
  digest: string;
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function blob(sizeOrData: number | string | Buffer): Blob {
  const data = typeof sizeOrData === 'number' ? randomBytes(sizeOrData) : Buffer.from(sizeOrData);
  return { data, digest: sha256(data) };
}

/** An OCI image manifest over a config and layers. */
export function imageManifest(config: Blob, layers: Blob[], extra: Record<string, unknown> = {}): Blob & { json: Record<string, unknown> } {
  const json = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.data.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.data.length })),
    ...extra,
  };
  const data = Buffer.from(JSON.stringify(json));
  return { data, digest: sha256(data), json };
}

/** An OCI image index over manifests. */
export function imageIndex(manifests: Blob[], extra: Record<string, unknown> = {}): Blob & { json: Record<string, unknown> } {
  const json = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: manifests.map((m, i) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: m.digest,
      size: m.data.length,
      platform: { architecture: i % 2 ? 'arm64' : 'amd64', os: 'linux' },
    })),
    ...extra,
  };
  const data = Buffer.from(JSON.stringify(json));
  return { data, digest: sha256(data), json };
}

/** A valid image config JSON blob. */
export function imageConfig(): Blob {
  return blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }));
}

export async function* chunks(...parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield p;
}
