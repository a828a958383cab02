/**
 * Per-key async mutexes. Each repository gets its own lock, so pushes to different
 * repositories never wait on each other (zot's global store lock is its most reported
 * throughput problem, zot#2964). Keys with no waiters are dropped, so the map stays small.
 */
export class KeyedMutex {
  private tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier holder of `key` has finished. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Number of keys currently held or awaited (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}
