import { randomUUID } from 'node:crypto';
import { RegistryError } from '../errors/index.ts';
import { StreamingHasher, parseDigest, type Algorithm, type RunningHash } from '../oci/index.ts';
import type { KeyedMutex } from '../platform/locks.ts';
import type { HashThread } from '../platform/hash-thread.ts';
import type { MemoryTrim } from '../platform/memory-trim.ts';
import { type Layout, UploadOverrun } from './layout/index.ts';
import type { RegistryIndex } from './index/index.ts';
import type { UploadState, UploadStore } from './types.ts';
import type { RepoGuard } from './repos.ts';
import type { TouchLog } from './touches.ts';
import type { SpaceGuard } from './space.ts';

/** Upload ids are UUIDs; anything else is unknown without touching the disk. */
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Running hashes kept for sessions; beyond this the oldest are dropped (and rebuilt from disk). */
const MAX_LIVE_HASHES = 4096;

/**
 * A request bringing at least this much (or an unknown length) is a large upload: hashed on
 * the hash thread when it starts a session, and followed by a heap trim once things are
 * quiet. Smaller ones hash here: a manifest-sized blob would pay two thread round trips for
 * microseconds of hashing.
 */
const LARGE_UPLOAD = 1024 * 1024;

/** Process-wide helpers for large uploads; either may be absent (single core, no addon). */
export interface UploadHelpers {
  /**
   * Makes the running hash of a large upload off the event loop, in place (the addon's,
   * hashing on libuv's pool); absent, the hash thread, else the event loop.
   */
  nativeHash?: (algorithm: Algorithm) => RunningHash | null;
  /** Where large uploads are hashed when asked for (SKIFF_HASH_THREAD=on); absent, see nativeHash. */
  hashThread?: HashThread | null;
  /** Told when a large upload ends, to give the C heap back afterwards. */
  memoryTrim?: MemoryTrim | null;
}

/**
 * Blob uploads (distribution-spec "Pushing blobs"): monolithic, chunked (Content-Range)
 * and streamed. Bytes go straight from the socket through a running SHA-256 into the
 * session file; completion verifies the digest and renames (or, with dedupe, links) the
 * file into the layout, and only then records it in the index.
 */
export class UploadService implements UploadStore {
  private hashes = new Map<string, RunningHash>();

  constructor(
    private readonly layout: Layout,
    private readonly index: RegistryIndex,
    private readonly locks: KeyedMutex,
    private readonly repos: RepoGuard,
    private readonly dedupe: boolean,
    private readonly touches: TouchLog,
    private readonly space: SpaceGuard,
    private readonly helpers: UploadHelpers = {},
  ) {}

  async start(repo: string): Promise<UploadState> {
    this.space.check();
    const id = randomUUID();
    // Both under the repository lock: a GC sweep removing an empty repository must see
    // either no session (and go first) or this session (and keep the repository).
    await this.locks.run(repo, async () => {
      await this.repos.ensure(repo);
      this.touches.touch(repo, `upload:${id}`);
      await this.layout.uploads.create(repo, id);
    });
    return { id, offset: 0 };
  }

  async status(repo: string, id: string): Promise<UploadState> {
    // Behind the session lock: an append still draining (or being aborted) would report an
    // offset that is still moving, and the client's resume would then be refused.
    return this.locks.run(`upload:${id}`, async () => ({ id, offset: await this.size(repo, id) }));
  }

  async append(repo: string, id: string, body: AsyncIterable<Buffer>, opts: { range?: { start: number; end: number }; length?: number }): Promise<UploadState> {
    return this.locks.run(`upload:${id}`, async () => {
      const offset = await this.size(repo, id);
      if (opts.range && opts.range.start !== offset) {
        throw new RegistryError('RANGE_INVALID', `chunk starts at ${opts.range.start}, expected ${offset}`, {
          status: 416,
          headers: { Range: `0-${Math.max(0, offset - 1)}`, 'Docker-Upload-UUID': id },
        });
      }
      const expect = opts.range ? opts.range.end - opts.range.start + 1 : opts.length;
      if (opts.range && opts.length !== undefined && opts.length !== expect) {
        throw new RegistryError('SIZE_INVALID', `Content-Length ${opts.length} does not match Content-Range ${opts.range.start}-${opts.range.end}`);
      }
      this.space.check(expect ?? 0);
      const written = await this.write(repo, id, offset, body, expect);
      if (expect !== undefined && written !== expect) {
        throw new RegistryError('SIZE_INVALID', `received ${written} bytes, expected ${expect}`);
      }
      return { id, offset: offset + written };
    });
  }

  async complete(repo: string, id: string, digest: string, body: AsyncIterable<Buffer> | null, length?: number): Promise<{ digest: string; size: number }> {
    const want = parseDigest(digest);
    return this.locks.run(`upload:${id}`, async () => {
      const offset = await this.size(repo, id);
      this.touches.touch(repo, `upload:${id}`);
      if (body) {
        this.space.check(length ?? 0);
        const written = await this.write(repo, id, offset, body, length);
        if (length !== undefined && written !== length) throw new RegistryError('SIZE_INVALID', `received ${written} bytes, expected ${length}`);
      }
      // The session's file may still be open from its last chunk; it is about to move.
      await this.layout.uploads.release(repo, id);
      const { got, size } = await this.digestOf(repo, id, want.algorithm);
      if (got !== want.value) {
        await this.layout.uploads.remove(repo, id);
        throw new RegistryError('DIGEST_INVALID', `uploaded content has digest ${got}, not ${want.value}`, { detail: { expected: want.value, actual: got } });
      }
      // Under the repository lock, so a commit never interleaves with a GC sweep of the
      // repository (which could otherwise unlink the file just renamed into place).
      await this.locks.run(repo, async () => {
        this.touches.touch(repo, want.value);
        await this.commit(repo, id, want.value);
      });
      return { digest: want.value, size };
    });
  }

  async cancel(repo: string, id: string): Promise<void> {
    await this.size(repo, id);
    this.forget(id);
    await this.layout.uploads.remove(repo, id);
  }

  async monolithic(repo: string, digest: string, body: AsyncIterable<Buffer>, length?: number): Promise<{ digest: string; size: number }> {
    parseDigest(digest);
    this.space.check(length ?? 0);
    const { id } = await this.start(repo);
    try {
      return await this.complete(repo, id, digest, body, length);
    } finally {
      this.forget(id);
      await this.layout.uploads.remove(repo, id);
    }
  }

  /**
   * Moves the verified session file into place. With dedupe, an identical blob held by
   * another repository is hard-linked instead and the session file dropped, so the
   * content is stored once. A stale holder (file gone) falls back to the rename.
   */
  private async commit(repo: string, id: string, digest: string): Promise<void> {
    if (this.dedupe && !(await this.layout.blobs.stat(repo, digest))) {
      for (const holder of this.index.holders(digest)) {
        if (holder === repo) continue;
        if (await this.layout.blobs.link(repo, digest, holder, 'link')) {
          await this.layout.uploads.remove(repo, id);
          await this.index.write.addHolder(digest, repo);
          return;
        }
        await this.index.write.removeHolder(digest, holder);
      }
    }
    await this.layout.blobs.commitFile(repo, digest, this.layout.uploads.path(repo, id));
    await this.index.write.addHolder(digest, repo);
  }

  /**
   * The session's digest and size: from its running hash, or, when there is none (a restart,
   * a failed append, another algorithm, a stopped hash thread), from the file.
   */
  private async digestOf(repo: string, id: string, algorithm: RunningHash['algorithm']): Promise<{ got: string; size: number }> {
    const running = this.hashes.get(id);
    this.hashes.delete(id);
    if (running) {
      try {
        const got = running.algorithm === algorithm ? await running.peek() : null;
        if (got !== null) return { got, size: running.size };
      } finally {
        running.dispose();
      }
    }
    const rebuilt = await this.layout.uploads.rehash(repo, id, algorithm);
    return { got: rebuilt.peek(), size: rebuilt.size };
  }

  /**
   * Appends to the file; on any failure the running hash is dropped (rebuilt from disk later).
   * A session's running hash begins with its first bytes; one that is missing later stays
   * missing until completion rebuilds it.
   */
  private async write(repo: string, id: string, offset: number, body: AsyncIterable<Buffer>, limit?: number): Promise<number> {
    // A session being written to is alive, whatever its age: GC spares touched sessions.
    this.touches.touch(repo, `upload:${id}`);
    const large = (limit ?? Infinity) >= LARGE_UPLOAD;
    let hasher = this.hashes.get(id) ?? null;
    if (!hasher && offset === 0) {
      const thread = large ? this.helpers.hashThread : null;
      hasher = thread ? thread.open('sha256') : ((large ? this.helpers.nativeHash?.('sha256') : null) ?? new StreamingHasher('sha256'));
      this.remember(id, hasher);
    }
    try {
      return await this.layout.uploads.append(repo, id, body, hasher, limit);
    } catch (err) {
      this.forget(id);
      if (err instanceof UploadOverrun) throw new RegistryError('SIZE_INVALID', err.message);
      const code = (err as NodeJS.ErrnoException).code;
      // The session file went away under us (removed as stale, or cancelled): the session is unknown.
      if (code === 'ENOENT') throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id } });
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        // Out of space midway: drop the partial file so the space is given back at once;
        // the session is gone and the client starts over once there is room.
        await this.layout.uploads.remove(repo, id);
        this.space.noticeFull();
        throw new RegistryError('INSUFFICIENT_STORAGE', 'the disk filled up during the upload; the partial upload was removed', { detail: { uuid: id } });
      }
      throw err;
    } finally {
      if (large) this.helpers.memoryTrim?.noteWork();
    }
  }

  private async size(repo: string, id: string): Promise<number> {
    const size = UPLOAD_ID.test(id) ? await this.layout.uploads.size(repo, id) : null;
    if (size === null) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id } });
    return size;
  }

  private remember(id: string, h: RunningHash): void {
    if (this.hashes.size >= MAX_LIVE_HASHES) {
      const oldest = this.hashes.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    this.hashes.set(id, h);
  }

  private forget(id: string): void {
    this.hashes.get(id)?.dispose();
    this.hashes.delete(id);
  }
}
