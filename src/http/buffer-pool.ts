/**
 * A fixed budget of reusable buffers for response bodies read from a `readInto` source.
 *
 * Why a budget and not a buffer per chunk or per response: 32 concurrent pulls of one
 * blob with a new 512 KiB buffer per chunk grew the process by ~70 MiB (the allocator
 * keeps freed chunks resident, and the external memory drove extra mark-compacts).
 * Here at most `max` buffers ever exist; they are allocated on first use and then kept,
 * so a burst of downloads costs `max × size` bytes once and no allocation per chunk.
 * A response that finds none free waits its turn (first come, first served); writers
 * waiting on slow sockets hold at most half the buffers (pooled-reads.ts, uws-stream.ts),
 * so waits are as short as a file read plus a socket send.
 */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #waiters: Array<(buf: Buffer) => void> = [];
  #allocated = 0;

  constructor(
    /** Size of every buffer. */
    readonly size: number,
    /** Buffers that may exist at once. */
    readonly max: number,
  ) {}

  /** Frees a buffer held for possible reuse (shared-chunks.ts) when the budget is spent. */
  reclaim: (() => Buffer | undefined) | undefined;

  /** A buffer now, or undefined when the budget is spent. */
  tryTake(): Buffer | undefined {
    const buf = this.#free.pop();
    if (buf) return buf;
    if (this.#allocated >= this.max) return this.reclaim?.();
    this.#allocated++;
    return Buffer.allocUnsafeSlow(this.size);
  }

  /** A buffer, waiting for one to be given back when the budget is spent. */
  take(): Buffer | Promise<Buffer> {
    return this.tryTake() ?? new Promise((resolve) => this.#waiters.push(resolve));
  }

  give(buf: Buffer): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(buf);
    else this.#free.push(buf);
  }

  /**
   * Takes `buf` out of the pool for good: a socket write still holds it and will free it
   * when done. The pool may allocate a replacement; the budget counts only buffers it owns.
   */
  forget(_buf: Buffer): void {
    this.#allocated--;
    // The budget has room again: a download waiting for a buffer gets a new one now.
    if (this.#waiters.length > 0) this.give(this.tryTake()!);
  }

  /** True when someone is waiting for a buffer. */
  get contended(): boolean {
    return this.#waiters.length > 0;
  }
}
