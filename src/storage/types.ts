import type { Descriptor } from '../oci/index.ts';
import type { Page } from './index/index.ts';

/** A manifest as served. */
export interface StoredManifest {
  digest: string;
  mediaType: string;
  size: number;
  body: Buffer;
}

/** A readable (part of a) blob. */
export interface BlobRead {
  /** Iterate for new buffers, or `readInto` a buffer of your own (0 at the end). */
  stream: AsyncIterable<Buffer> & { destroy(err?: Error): void; readInto?(target: Buffer): Promise<number> };
  /** Bytes in this read. */
  length: number;
  /** Size of the whole blob. */
  size: number;
}

/** State of an upload session. */
export interface UploadState {
  id: string;
  /** Bytes received so far; the next chunk must start here. */
  offset: number;
}

/**
 * Manifests by tag or digest. Errors: NAME_UNKNOWN / MANIFEST_UNKNOWN on misses,
 * MANIFEST_INVALID, MANIFEST_BLOB_UNKNOWN on bad pushes, UNSUPPORTED when a delete would
 * break an index that references the manifest.
 */
export interface ManifestStore {
  /** Null when absent. `reference` is a tag or a digest. */
  get(repo: string, reference: string): StoredManifest | null;
  /** Stores the bytes as sent; tags it with `reference` (if a tag) and `extraTags`. */
  put(repo: string, reference: string, body: Buffer, contentType: string | undefined, extraTags?: string[]): Promise<{ digest: string; subject?: string }>;
  /** By tag: removes the tag. By digest: removes the manifest and every tag naming it. */
  delete(repo: string, reference: string): Promise<void>;
}

/** Blobs of a repository. Errors: BLOB_UNKNOWN, DENIED (delete of a referenced blob). */
export interface BlobStore {
  stat(repo: string, digest: string): Promise<{ size: number } | null>;
  /** Opens a blob, or a byte range of it (inclusive); null when absent. */
  open(repo: string, digest: string, range?: { start: number; end: number }): Promise<BlobRead | null>;
  delete(repo: string, digest: string): Promise<void>;
  /** Makes `repo` hold a blob `from` holds (cross-repo mount); false if `from` lacks it. */
  mount(repo: string, digest: string, from: string): Promise<boolean>;
}

/**
 * Upload sessions. Errors: BLOB_UPLOAD_UNKNOWN, RANGE_INVALID (416), DIGEST_INVALID,
 * SIZE_INVALID. Bodies are read a chunk at a time, each written before the next is
 * asked for, so a body may reuse a chunk's memory once the next one is requested.
 */
export interface UploadStore {
  start(repo: string): Promise<UploadState>;
  status(repo: string, id: string): Promise<UploadState>;
  /**
   * Appends a chunk. `range` (from Content-Range) must start at the current offset;
   * `length` (Content-Length) caps and checks the bytes read.
   */
  append(repo: string, id: string, body: AsyncIterable<Buffer>, opts: { range?: { start: number; end: number }; length?: number }): Promise<UploadState>;
  /** Appends an optional last chunk, verifies `digest`, and commits the blob. */
  complete(repo: string, id: string, digest: string, body: AsyncIterable<Buffer> | null, length?: number): Promise<{ digest: string; size: number }>;
  cancel(repo: string, id: string): Promise<void>;
  /** One-request upload (POST ?digest=): a session that is completed at once. */
  monolithic(repo: string, digest: string, body: AsyncIterable<Buffer>, length?: number): Promise<{ digest: string; size: number }>;
}

/** Listings. Errors: NAME_UNKNOWN for the tag list of an unknown repository. */
export interface Catalog {
  repositories(n?: number, last?: string): Page;
  tags(repo: string, n?: number, last?: string): Page;
  /** Descriptors of manifests whose subject is `digest`, optionally by artifactType. */
  referrers(repo: string, digest: string, artifactType?: string): Descriptor[];
  /** True when the repository exists (was written to and not yet removed by GC). */
  hasRepo(repo: string): boolean;
}

/** The storage facade handed to the API and to extensions. */
export interface Storage {
  readonly manifests: ManifestStore;
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  readonly catalog: Catalog;
  /** Count a manifest pull (statistics for retention). */
  recordPull(repo: string, digest: string): void;
  /**
   * Startup reconcile of index and disk. Resolves when requests may be served: at once
   * after a clean shutdown (the rest of the reconcile runs in the background), after the
   * reconcile otherwise.
   */
  ready(): Promise<void>;
  /**
   * Resolves when the index is known to match the disk (the background reconcile, if any,
   * is done). A lookup that misses waits for it before answering "unknown", so a layout
   * copied in while skiff was stopped is found by the first request that asks for it.
   */
  settled(): Promise<void>;
  close(): Promise<void>;
}
