import { RegistryError } from '../errors/index.ts';
import { digestOf } from './digest.ts';
import { type Descriptor, invalid, isObject, parseDescriptor, stringMap } from './descriptor.ts';
import { MANIFEST_KINDS, type ManifestKind, isNondistributable } from './mediatypes.ts';

/** distribution-spec: registries SHOULD accept manifests of at least 4 MiB; zot caps at 4 MiB. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** What the registry needs to know about a manifest, parsed once at push time. */
export interface ParsedManifest {
  kind: ManifestKind;
  mediaType: string;
  digest: string;
  size: number;
  /** Blobs that must exist in the repository: config and distributable layers. */
  blobs: string[];
  /** Child manifests of an index, which must exist in the repository. */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** Referrers API: artifactType, else the config's mediaType (image-spec manifest.md). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

/**
 * Parses and validates a manifest body as pushed (distribution-spec "Pushing Manifests",
 * image-spec manifest.md / image-index.md). The body is never re-serialised: its bytes
 * are the content and the digest is computed over them as received.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  if (body.length > MAX_MANIFEST_BYTES) {
    throw new RegistryError('MANIFEST_INVALID', `manifest exceeds ${MAX_MANIFEST_BYTES} bytes`, { status: 413 });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    invalid('$', 'body is not valid JSON');
  }
  if (!isObject(doc)) invalid('$', 'manifest must be a JSON object');
  const ct = contentType?.split(';')[0]?.trim();
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  // The mediaType field, when present, must agree with Content-Type (image-spec requires
  // the field for v1.1 manifests; older clients omit it and rely on the header).
  if (declared && ct && declared !== ct) invalid('$.mediaType', `"${declared}" does not match Content-Type "${ct}"`);
  const mediaType = declared ?? ct ?? guessMediaType(doc);
  const kind = mediaType ? MANIFEST_KINDS[mediaType] : undefined;
  if (!mediaType || !kind) {
    throw new RegistryError('MANIFEST_INVALID', `unsupported manifest media type "${String(mediaType).slice(0, 120)}"`);
  }
  if (doc.schemaVersion !== 2) invalid('$.schemaVersion', 'must be 2');
  const parsed: ParsedManifest = { kind, mediaType, digest: digestOf(body), size: body.length, blobs: [], manifests: [] };
  if (kind === 'image') parseImage(doc, parsed);
  else parseIndex(doc, parsed);
  if (doc.subject !== undefined) parsed.subject = parseDescriptor(doc.subject, '$.subject');
  if (isObject(doc.annotations)) parsed.annotations = stringMap(doc.annotations, '$.annotations');
  return parsed;
}

function parseImage(doc: Record<string, unknown>, out: ParsedManifest): void {
  const config = parseDescriptor(doc.config, '$.config');
  out.blobs.push(config.digest);
  if (!Array.isArray(doc.layers)) invalid('$.layers', 'must be an array');
  doc.layers.forEach((l, i) => {
    const d = parseDescriptor(l, `$.layers[${i}]`);
    // Foreign layers are fetched by clients from their urls; the registry never holds them.
    if (!(isNondistributable(d.mediaType) && d.urls && d.urls.length > 0)) out.blobs.push(d.digest);
  });
  const at = typeof doc.artifactType === 'string' ? doc.artifactType : undefined;
  out.artifactType = at ?? config.mediaType;
}

function parseIndex(doc: Record<string, unknown>, out: ParsedManifest): void {
  if (!Array.isArray(doc.manifests)) invalid('$.manifests', 'must be an array');
  out.manifests = doc.manifests.map((m, i) => parseDescriptor(m, `$.manifests[${i}]`));
  if (typeof doc.artifactType === 'string') out.artifactType = doc.artifactType;
}

/** Old clients send no Content-Type and no mediaType; the shape tells which it is. */
function guessMediaType(doc: Record<string, unknown>): string | undefined {
  if (Array.isArray(doc.manifests)) return 'application/vnd.oci.image.index.v1+json';
  if (isObject(doc.config) && Array.isArray(doc.layers)) return 'application/vnd.oci.image.manifest.v1+json';
  return undefined;
}
