/**
 * Small concurrency helpers of the sync extension: a counting semaphore (zot's per-host
 * `reqConcurrent`), an abortable sleep, exponential backoff and in-flight coalescing.
 */

/** Limits how many tasks run at once; the rest queue in arrival order. */
export class Semaphore {
  private active = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiters.shift()?.();
    }
  }
}

/** Resolves after `ms`, or rejects at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits for `p` at most `ms` (the timer is cleared, so it never holds the process open). */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** `base * 2^attempt`, capped: zot's retryDelay/maxRetryDelay backoff (attempt counts from 0). */
export function backoff(attempt: number, base: number, cap: number): number {
  return Math.min(cap, base * 2 ** Math.min(attempt, 30));
}

/**
 * Shares one running task among every caller asking for the same key, so sixteen clients
 * pulling the same uncached image cause one upstream fetch. The entry is dropped when the
 * task settles, so a later call starts afresh.
 */
export class Coalescer<T> {
  private inflight = new Map<string, Promise<T>>();

  run(key: string, task: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = task().finally(() => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    });
    this.inflight.set(key, p);
    return p;
  }

  /** Promises of every running task (close waits for them). */
  all(): Promise<T>[] {
    return [...this.inflight.values()];
  }
}
