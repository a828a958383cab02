/**
 * The chunks of a StreamBody, one at a time, for an engine that finishes writing a chunk
 * before it asks for the next (uWS tryEnd + onWritable).
 *
 * A source with `readInto` is read into pooled buffers (buffer-pool.ts): no allocation
 * per chunk, and, while buffers are free, the next chunk is read (on libuv's thread pool)
 * while the current one is being sent; reading only when asked made a single pull ~20%
 * slower than a read-ahead stream. Other sources are iterated as they are.
 */
import { BufferPool } from './buffer-pool.ts';
import type { StreamBody } from './types.ts';

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
  /** Release the source (destroyed unless `completed`) and its buffers. */
  close(completed: boolean): void;
}

/**
 * 256 KiB: the loopback socket takes a chunk this size in one send (32 concurrent pulls
 * saw no partial tryEnd at all); 64 and 128 KiB cost more CPU per GiB (more syscalls and
 * trips through JS), and 512 KiB cost more too (measured: more system time per GiB,
 * likely the buffer no longer staying in the core's cache between read and send).
 */
export const CHUNK_SIZE = 256 * 1024;
/**
 * 16 buffers (4 MiB) for all responses together: libuv reads at most 4 files at once
 * and the event loop sends one chunk at a time, so more buffers would only sit in
 * queues; 32 concurrent pulls ran about as fast with 16 as with one pair per response.
 */
const POOL_BUFFERS = 16;
/** Reads in flight per response beyond the chunk being sent; 2 or 3 were no faster. */
const READ_AHEAD = 1;

const pool = new BufferPool(CHUNK_SIZE, POOL_BUFFERS);

export function chunkSource(body: StreamBody): ChunkSource {
  const readInto = body.stream.readInto;
  if (readInto) return new PooledReads((buf) => readInto.call(body.stream, buf), () => body.stream.destroy?.());
  return new IteratedChunks(body);
}

class PooledReads implements ChunkSource {
  readonly lends = true;
  /** The buffer of the chunk last handed out (free again on the next call). */
  #lent: Buffer | undefined;
  /** Reads started ahead, in order, each into its own buffer. */
  readonly #ahead: Array<{ buf: Buffer; length: number; read: Promise<number> }> = [];
  /** Bytes the reads in `#ahead` will deliver. */
  #claimed = 0;
  #closed = false;

  constructor(
    private readonly readInto: (buf: Buffer) => Promise<number>,
    private readonly destroy: () => void,
  ) {}

  async next(wanted: number): Promise<Buffer | null> {
    // Back to the pool first, so other responses waiting for a buffer take turns with us.
    this.release();
    if (this.#closed) return null;
    if (this.#ahead.length === 0) {
      const taken = pool.take();
      const buf = taken instanceof Promise ? await taken : taken;
      if (this.#closed) {
        pool.give(buf);
        return null;
      }
      this.#start(buf, wanted);
    }
    const pending = this.#ahead.shift()!;
    this.#claimed -= pending.length;
    let n: number;
    try {
      n = await pending.read;
    } catch (err) {
      pool.give(pending.buf);
      throw err;
    }
    if (this.#closed || n === 0) {
      pool.give(pending.buf);
      return null;
    }
    // Read ahead only with buffers nobody else is waiting for.
    while (this.#ahead.length < READ_AHEAD && wanted - n - this.#claimed > 0 && !pool.contended) {
      const spare = pool.tryTake();
      if (!spare) break;
      this.#start(spare, wanted - n - this.#claimed);
    }
    this.#lent = pending.buf;
    return n === pending.buf.length ? pending.buf : pending.buf.subarray(0, n);
  }

  /** Starts reading the next `unclaimed` bytes (at most a buffer) into `buf`. */
  #start(buf: Buffer, unclaimed: number): void {
    const target = limit(buf, unclaimed);
    this.#claimed += target.length;
    const read = this.readInto(target);
    // A failure is reported when this chunk is asked for; until then it must not go unhandled.
    read.catch(() => undefined);
    this.#ahead.push({ buf, length: target.length, read });
  }

  /** Gives the last chunk's buffer back now (the caller copied what it still needs). */
  release(): void {
    if (this.#lent) pool.give(this.#lent);
    this.#lent = undefined;
  }

  close(completed: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!completed) this.destroy();
    this.release();
    // A read in flight still writes into its buffer: pool it only once the read is over.
    this.#claimed = 0;
    for (const { buf, read } of this.#ahead.splice(0)) void read.then(() => pool.give(buf), () => pool.give(buf));
  }
}

/** The pooled buffer, shortened so a read never goes past the bytes still wanted. */
function limit(buf: Buffer, wanted: number): Buffer {
  return wanted < buf.length ? buf.subarray(0, wanted) : buf;
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

  close(completed: boolean): void {
    if (!completed) this.body.stream.destroy?.();
    // Let a generator or Readable release its file handle.
    void this.#iterator.return?.()?.catch(() => undefined);
  }
}
