import { read } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { FileSender, SendResult } from '../../platform/native.ts';

export type { FileSender, SendResult };

/**
 * A byte range of an open file, read in order, that owns its handle.
 *
 * Two ways to read it:
 * - `readInto(buffer)` fills the caller's buffer (a "bring your own buffer" read). The HTTP
 *   engine passes a pooled buffer it reuses for the whole response, so a download
 *   allocates nothing per chunk: a fresh 512 KiB buffer per chunk cost a page-faulting
 *   allocation each and kept ~40 MiB of freed chunks resident in the allocator.
 * - iteration yields a new buffer per chunk, for consumers that keep chunks (node:http's
 *   write queue, hashing in scrub, export).
 *
 * The handle is closed exactly once: at the end of the range (unless `keepOpen` was
 * called), on a read error, or on `destroy()` (a client hanging up, or the consumer done).
 * The close waits for the reads in flight, so the descriptor number cannot be reused
 * under them.
 */
export class FileRange implements AsyncIterable<Buffer> {
  readonly #start: number;
  #position: number;
  #remaining: number;
  #closed = false;
  /** Set by keepOpen: only destroy() closes the handle. */
  #keepOpen = false;
  /** Reads in flight; the handle is closed only after them. */
  readonly #reading = new Set<Promise<void>>();

  constructor(
    private readonly fh: FileHandle,
    start: number,
    length: number,
    /** Chunk size of the iterator. */
    private readonly chunk: number,
  ) {
    this.#start = start;
    this.#position = start;
    this.#remaining = length;
  }

  /**
   * The range stays open past its end, so bytes already read can be read again (`readAt`),
   * until `destroy()`: the consumer promises to call it.
   */
  keepOpen(): void {
    this.#keepOpen = true;
  }

  /**
   * Reads `target.length` bytes at file offset `at` again, bytes this range already handed
   * out (read or skipped), without moving `position`: a response re-sends what its socket
   * did not take instead of keeping a copy while the client is slow.
   */
  async readAt(target: Buffer, at: number): Promise<number> {
    if (this.#closed) throw new Error('file range is closed');
    if (at < this.#start || at + target.length > this.#position) {
      throw new RangeError(`readAt ${at}+${target.length} is outside the bytes handed out (${this.#start}-${this.#position})`);
    }
    if (target.length > 0) await this.#tracked(this.#fill(target, target.length, at));
    return target.length;
  }

  /** Awaits a read, counted in flight meanwhile (a close waits for it). */
  async #tracked(read: Promise<void>): Promise<void> {
    this.#reading.add(read);
    try {
      await read;
    } finally {
      this.#reading.delete(read);
    }
  }

  /** At the end of the range with nothing in flight: close, unless kept open. */
  #closeIfDone(): void {
    if (this.#remaining === 0 && this.#reading.size === 0 && !this.#keepOpen) this.#close();
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#remaining;
  }

  /** File offset of the next unclaimed byte. */
  get position(): number {
    return this.#position;
  }

  /** Claims the next `n` bytes without reading them (another reader already has them). */
  skip(n: number): void {
    if (this.#closed) throw new Error('file range is closed');
    const k = Math.min(n, this.#remaining);
    this.#position += k;
    this.#remaining -= k;
    this.#closeIfDone();
  }

  /**
   * Reads the next bytes of the range into `target` (up to its length). Resolves the
   * count, 0 at the end of the range. The bytes are claimed when called, so a caller may
   * start the next read before this one resolves (read-ahead) and still get the chunks
   * in order. A file that shrank underneath is an error, never a silent short body.
   */
  async readInto(target: Buffer): Promise<number> {
    if (this.#closed) throw new Error('file range is closed');
    const want = Math.min(target.length, this.#remaining);
    if (want === 0) {
      if (!this.#keepOpen) this.#close();
      return 0;
    }
    const at = this.#position;
    this.#position += want;
    this.#remaining -= want;
    try {
      await this.#tracked(this.#fill(target, want, at));
    } catch (err) {
      this.#close();
      throw err;
    }
    // Destroyed while reading: the bytes in `target` are still good (the handle closes only
    // after reads in flight), and a shared chunk's other readers are waiting for them.
    this.#closeIfDone();
    return want;
  }

  /**
   * Lets `send` move the next bytes of the range (up to `max`) straight from the
   * descriptor, which stays open until it settles; the range advances by what it moved.
   * One call at a time, never beside a `readInto` still in flight: the bytes are claimed
   * only once the sender says how many it moved.
   */
  async sendWith(send: FileSender, max: number): Promise<SendResult> {
    if (this.#closed) throw new Error('file range is closed');
    const want = Math.min(max, this.#remaining);
    if (want === 0) {
      if (!this.#keepOpen) this.#close();
      return { sent: 0, blocked: false };
    }
    const op = send(this.fh.fd, this.#position, want);
    const settled = op.then(() => undefined, () => undefined);
    this.#reading.add(settled);
    let result: SendResult;
    try {
      result = await op;
    } catch (err) {
      this.#close();
      throw err;
    } finally {
      this.#reading.delete(settled);
    }
    const moved = Math.min(result.sent, this.#remaining);
    this.#position += moved;
    this.#remaining -= moved;
    this.#closeIfDone();
    return result;
  }

  /**
   * pread until `want` bytes are in (a regular file reads short only at its end). The
   * callback form of fs.read on the raw descriptor: FileHandle.read's promise plumbing
   * cost ~10% of a pull's main-thread time; the handle stays open until #close, which
   * waits for these reads.
   */
  #fill(target: Buffer, want: number, at: number): Promise<void> {
    const fd = this.fh.fd;
    return new Promise((resolve, reject) => {
      const step = (got: number) =>
        read(fd, target, got, want - got, at + got, (err, bytesRead) => {
          if (err) return reject(err);
          if (bytesRead === 0) return reject(new Error(`file ended ${want - got} bytes early`));
          if (got + bytesRead < want) return step(got + bytesRead);
          resolve();
        });
      step(0);
    });
  }

  /**
   * New buffers, the next one read while the consumer handles the current one (as
   * fs.ReadStream did): reading only when asked made node:http pulls ~2x slower.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      let next = this.#readNew();
      while (next) {
        const buf = await next;
        next = this.#readNew();
        yield buf;
      }
    } finally {
      this.#close();
    }
  }

  #readNew(): Promise<Buffer> | undefined {
    if (this.#remaining === 0) return undefined;
    const buf = Buffer.allocUnsafe(Math.min(this.chunk, this.#remaining));
    const read = this.readInto(buf).then((n) => (n === buf.length ? buf : buf.subarray(0, n)));
    // Awaited by the loop unless the consumer stops first; then nobody must see it fail.
    read.catch(() => undefined);
    return read;
  }

  /** Stops reading and releases the handle (idempotent). */
  destroy(): void {
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#remaining = 0;
    const fh = this.fh;
    void Promise.allSettled([...this.#reading])
      .then(() => fh.close())
      .catch(() => undefined);
  }
}
