import type { Descriptor } from '../../oci/index.ts';
import type { Fingerprint } from '../layout/index.ts';

/**
 * Record shapes stored in the LMDB index. Everything here is derived from the OCI
 * layouts on disk and can be rebuilt from them; bump SCHEMA_VERSION whenever a shape
 * changes, and the next start rebuilds instead of misreading old records.
 */
export const SCHEMA_VERSION = 1;

/** A repository the index knows, with the index.json version it was built from. */
export interface RepoRecord {
  fingerprint: Fingerprint | null;
  createdAt: number;
}

/** A tag: which manifest it names. */
export interface TagRecord {
  digest: string;
  mediaType: string;
  size: number;
  taggedAt: number;
}

/** A manifest known to a repository (listed in index.json, or a child of a listed index). */
export interface ManifestRecord {
  digest: string;
  mediaType: string;
  size: number;
  /** The exact bytes, so manifest GETs never touch the disk. */
  body: Buffer;
  pushedAt: number;
  /** Blobs (config, layers) and child manifests this manifest references. */
  children: string[];
  subject?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Pull statistics of a manifest (zot's DescriptorStatistics), for retention. */
export interface PullStats {
  count: number;
  lastPull: number;
}

/** The descriptor the referrers API lists for a manifest. */
export function referrerDescriptor(m: ManifestRecord): Descriptor {
  const d: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
  if (m.artifactType) d.artifactType = m.artifactType;
  if (m.annotations) d.annotations = m.annotations;
  return d;
}

/**
 * Keys are raw UTF-8 bytes (`keyEncoding: 'binary'`), `repo SOH …`, so one repository's
 * rows form one contiguous, byte-ordered range. SOH (0x01) cannot occur in names, tags or
 * digests. lmdb-js's default key encoding is avoided: it re-interprets some strings
 * (it decoded a digest key back as an array).
 */
export const SEP = '\u0001';

export type Key = Buffer;

export function key(...parts: string[]): Key {
  return Buffer.from(parts.join(SEP), 'utf8');
}

/** The range of keys starting with `parts + SEP`, and the byte length of that prefix. */
export function prefixRange(...parts: string[]): { start: Key; end: Key; skip: number } {
  const p = parts.join(SEP);
  const start = Buffer.from(p + SEP, 'utf8');
  return { start, end: Buffer.from(`${p}\u0002`, 'utf8'), skip: start.length };
}

/** The part of a key after a prefix of `skip` bytes. */
export function tail(k: Key, skip: number): string {
  return k.toString('utf8', skip);
}
