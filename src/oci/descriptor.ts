import { RegistryError } from '../errors/index.ts';
import { parseDigest } from './digest.ts';

/** An OCI content descriptor (image-spec descriptor.md), the fields we act on. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Record<string, unknown>;
}

/** Fails a manifest with a MANIFEST_INVALID naming the JSON path at fault. */
export function invalid(path: string, why: string): never {
  throw new RegistryError('MANIFEST_INVALID', `${path}: ${why}`, { detail: { path, reason: why } });
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates one descriptor: mediaType (RFC 6838 shaped), a digest we can verify and a
 * non-negative integer size. Unknown fields are kept (the spec requires tolerance).
 */
export function parseDescriptor(v: unknown, path: string): Descriptor {
  if (!isObject(v)) invalid(path, 'descriptor must be an object');
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/.test(mediaType)) {
    invalid(`${path}.mediaType`, 'missing or not a media type');
  }
  if (typeof digest !== 'string') invalid(`${path}.digest`, 'missing');
  try {
    parseDigest(digest);
  } catch {
    invalid(`${path}.digest`, `invalid digest "${digest.slice(0, 80)}"`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) invalid(`${path}.size`, 'must be a non-negative integer');
  const d: Descriptor = { mediaType, digest, size };
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  if (isObject(v.annotations)) d.annotations = stringMap(v.annotations, `${path}.annotations`);
  if (Array.isArray(v.urls)) d.urls = v.urls.filter((u): u is string => typeof u === 'string');
  if (isObject(v.platform)) d.platform = v.platform;
  return d;
}

/** Annotations must be string to string (image-spec annotations.md). */
export function stringMap(v: Record<string, unknown>, path: string): Record<string, string> {
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') invalid(`${path}.${k}`, 'annotation values must be strings');
  }
  return v as Record<string, string>;
}
