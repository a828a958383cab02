/**
 * A few large buffers kept between uses, all let go after a quiet spell.
 *
 * Why: the upload paths allocate 4 MiB buffers (bounce buffers for direct writes, socket
 * reads on node:http). Allocating them for every upload costs page faults on fresh memory;
 * keeping them for ever costs idle RSS on a box that pushed once an hour. Kept for
 * `keepMs` after the last release, under the 20 s after which a large upload's memory is
 * given back (platform/memory-trim.ts), so that release finds them unreferenced.
 */
export class IdlePool {
  #idle: Buffer[] = [];
  #expiry: NodeJS.Timeout | undefined;

  constructor(
    private readonly keep: number,
    private readonly keepMs: number,
  ) {}

  /** A kept buffer, or a new one from `make`. */
  take(make: () => Buffer): Buffer {
    return this.#idle.pop() ?? make();
  }

  /** Keeps `buf` for the next `take` if there is room, and (re)starts the quiet-spell timer. */
  release(buf: Buffer): void {
    if (this.#idle.length >= this.keep) return;
    this.#idle.push(buf);
    if (this.#expiry) {
      this.#expiry.refresh();
      return;
    }
    this.#expiry = setTimeout(() => {
      this.#idle.length = 0;
      this.#expiry = undefined;
    }, this.keepMs);
    this.#expiry.unref();
  }

  /** Buffers kept now. */
  get size(): number {
    return this.#idle.length;
  }
}
