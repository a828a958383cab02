/**
 * Chunks of shared content (a blob, named by its digest) read once and sent to every
 * download at the same offset. A fleet pulling one layer at once then costs one file read
 * per chunk instead of one per client, and the chunks live in the pooled buffers, so the
 * sharing adds no memory: a chunk nobody uses any more stays readable until its buffer is
 * needed ("idle"), which lets a download a few chunks behind the others still find it.
 *
 * Safe because shared content is immutable (content-addressed). A failed read is dropped
 * at once, so the next reader tries the file again; its current readers see the error.
 */
import type { BufferPool } from './buffer-pool.ts';

/** One chunk: a pooled buffer being filled, or filled, with `length` bytes at `key`'s offset. */
export interface SharedChunk {
  /** The content's key (shareKey), without the offset. */
  readonly content: string;
  readonly key: string;
  readonly buf: Buffer;
  readonly length: number;
  /** Bytes read; rejects when the read failed. */
  readonly read: Promise<number>;
  users: number;
  settled: boolean;
  failed: boolean;
  /** A write still holds the buffer: it leaves the pool when the last user is done. */
  detached: boolean;
}

export class SharedChunks {
  readonly #byKey = new Map<string, SharedChunk>();
  /** Chunks with no users, oldest first; their buffers go back to the pool when needed. */
  readonly #idle = new Set<SharedChunk>();
  /** Downloads in progress per content key: a chunk is only worth keeping while another may want it. */
  readonly #readers = new Map<string, number>();

  constructor(private readonly pool: BufferPool) {
    pool.reclaim = () => this.#evictIdle();
  }

  /** A download of `content` begins; chunks are shared only while it has company. */
  open(content: string): void {
    this.#readers.set(content, (this.#readers.get(content) ?? 0) + 1);
  }

  close(content: string): void {
    const n = (this.#readers.get(content) ?? 1) - 1;
    if (n > 0) this.#readers.set(content, n);
    else this.#readers.delete(content);
  }

  /** True when more than one download of `content` is in progress. */
  shared(content: string): boolean {
    return (this.#readers.get(content) ?? 0) > 1;
  }

  /** The chunk at `key` if one is being read or kept, now used by one more reader. */
  acquire(key: string): SharedChunk | undefined {
    const c = this.#byKey.get(key);
    if (!c) return undefined;
    c.users++;
    this.#idle.delete(c);
    return c;
  }

  /** Registers a read just started into `buf` (a pooled buffer), used by its starter. */
  add(content: string, key: string, buf: Buffer, length: number, read: Promise<number>): SharedChunk {
    const c: SharedChunk = { content, key, buf, length, read, users: 1, settled: false, failed: false, detached: false };
    this.#byKey.set(key, c);
    read.then(
      () => {
        c.settled = true;
        if (c.users === 0) this.#unused(c);
      },
      () => {
        c.settled = true;
        c.failed = true;
        if (this.#byKey.get(key) === c) this.#byKey.delete(key);
        if (c.users === 0) this.#free(c);
      },
    );
    return c;
  }

  /** A reader's socket write still holds the chunk's buffer: it must never be reused. */
  detach(c: SharedChunk): void {
    c.detached = true;
    if (this.#byKey.get(c.key) === c) this.#byKey.delete(c.key);
    this.release(c);
  }

  /** A reader is done with the chunk (it was sent, or copied where it is still needed). */
  release(c: SharedChunk): void {
    if (--c.users > 0 || !c.settled) return; // an unsettled chunk is handled when its read ends
    if (c.failed || c.detached) this.#free(c);
    else this.#unused(c);
  }

  /** The chunk's buffer leaves the cache: back to the pool, or out of it when detached. */
  #free(c: SharedChunk): void {
    if (c.detached) this.pool.forget(c.buf);
    else this.pool.give(c.buf);
  }

  /** Chunks held: being read, in use or idle (for tests). */
  get size(): number {
    return this.#byKey.size;
  }

  #unused(c: SharedChunk): void {
    // Someone is waiting for a buffer, or no other download could want this chunk: the
    // buffer goes back now (a lone download then cycles through two buffers, not the pool).
    if (this.pool.contended || !this.shared(c.content)) {
      this.#byKey.delete(c.key);
      this.pool.give(c.buf);
      return;
    }
    this.#idle.add(c);
  }

  #evictIdle(): Buffer | undefined {
    for (const c of this.#idle) {
      this.#idle.delete(c);
      this.#byKey.delete(c.key);
      return c.buf;
    }
    return undefined;
  }
}
