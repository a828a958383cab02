/**
 * The chunks of a StreamBody, one at a time, for an engine that finishes writing a chunk
 * before it asks for the next (uWS tryEnd + onWritable).
 *
 * A source with `readInto` is read into pooled buffers (buffer-pool.ts): no allocation
 * per chunk, and, while buffers are free, the next chunk is read (on libuv's thread pool)
 * while the current one is being sent; reading only when asked made a single pull ~20%
 * slower than a read-ahead stream. Concurrent downloads of one blob share the chunks read
 * (pooled-reads.ts, shared-chunks.ts). Other sources are iterated as they are.
 */
import { PooledReads } from './pooled-reads.ts';
import type { StreamBody } from './types.ts';

export { CHUNK_SIZE } from './pooled-reads.ts';

/** A chunk the caller keeps past the next `next` call (see ChunkSource.keep); each call after the first is a no-op. */
export interface ChunkLoan {
  done(): void;
  forget(): void;
}

export interface ChunkSource {
  /** True when chunks are loans of pooled buffers (see `release`). */
  readonly lends: boolean;
  /**
   * The next chunk, at most `wanted` bytes from a pooled source; null at the end. The
   * chunk is valid until the next call to `next` or `close`.
   */
  next(wanted: number): Promise<Buffer | null>;
  /** Ends the loan of the last chunk early: the caller keeps a copy of what it needs. */
  release(): void;
  /**
   * The caller is about to wait on a slow socket with part of the last chunk unsent. True:
   * it may keep the loan, and the chunks read ahead, meanwhile (until the next `next`,
   * `release` or `close`). False: too many pooled buffers are kept that way already, so it
   * lets go (`letGo`), or copies what it needs, calls `release` and `shed`.
   */
  hold(): boolean;
  /**
   * When `hold` said no: ends the loan of the last chunk (and gives back the chunks read
   * ahead) but remembers where its bytes from `from` on are (counted from the start of the
   * piece last handed out), to be read again by `again` once the caller's socket drains, so
   * a slow client holds neither a pooled buffer nor a copy. False (loan kept) when this
   * source cannot re-read.
   */
  letGo(from: number): boolean;
  /** The bytes `letGo` let go, read again (or found in a shared chunk): the new loan. */
  again(): Promise<Buffer>;
  /**
   * Takes over the loan of the last chunk, so `next` does not end it: for a writer that
   * queues several chunks (node:http). The caller ends it with `done` once the chunk is
   * written, or `forget` when something (a socket write still pending) keeps the buffer,
   * which then leaves the pool instead of being reused.
   */
  keep(): ChunkLoan;
  /**
   * The consumer waits on a slow client: chunks read ahead are moved out of pooled
   * buffers into private copies, so a stalled download holds no pooled buffer at all.
   */
  shed(): void;
  /** Release the source (destroyed unless `completed`) and its buffers. */
  close(completed: boolean): void;
}


export function chunkSource(body: StreamBody): ChunkSource {
  if (body.stream.readInto) return new PooledReads(body);
  return new IteratedChunks(body);
}

class IteratedChunks implements ChunkSource {
  readonly lends = false;
  readonly #iterator: AsyncIterator<Buffer>;

  constructor(private readonly body: StreamBody) {
    this.#iterator = body.stream[Symbol.asyncIterator]();
  }

  async next(): Promise<Buffer | null> {
    const r = await this.#iterator.next();
    return r.done ? null : r.value;
  }

  /** Iterated chunks are the caller's to keep. */
  release(): void {}

  hold(): boolean {
    return true;
  }

  letGo(): boolean {
    return false;
  }

  again(): Promise<Buffer> {
    return Promise.reject(new Error('an iterated source cannot read again'));
  }

  keep(): ChunkLoan {
    return { done: () => undefined, forget: () => undefined };
  }

  shed(): void {}

  close(completed: boolean): void {
    if (!completed) this.body.stream.destroy?.();
    // Let a generator or Readable release its file handle.
    void this.#iterator.return?.()?.catch(() => undefined);
  }
}
