import { resolve, sep } from 'node:path';

/**
 * Free space of the filesystem holding a path, watched in the background with
 * systeminformation (it shells out to `df`, ~40 ms, so it is sampled, never called on a
 * request path). Readers get the last sample; `refresh()` forces one (after ENOSPC).
 */
export class FreeSpaceWatcher {
  private timer: NodeJS.Timeout | undefined;
  private last: number | null = null;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly path: string, private readonly intervalMs = 5000) {}

  /** Takes a first sample, then keeps sampling every interval. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Bytes available to this process at the last sample; null when unknown. */
  get available(): number | null {
    return this.last;
  }

  refresh(): Promise<void> {
    this.inFlight ??= freeBytes(this.path)
      .then((v) => {
        this.last = v;
      })
      .catch(() => undefined)
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}

/** Available bytes on the mount with the longest mount point containing `path`. */
export async function freeBytes(path: string): Promise<number | null> {
  const target = resolve(path);
  let best: { mount: string; available: number } | undefined;
  // Loaded on first use: its import alone costs startup time the registry does not need.
  const si = (await import('systeminformation')).default;
  for (const fs of await si.fsSize()) {
    const m = fs.mount;
    const contains = m === '/' || target === m || target.startsWith(m.endsWith(sep) ? m : m + sep);
    if (contains && (!best || m.length > best.mount.length)) best = { mount: m, available: fs.available };
  }
  return best ? best.available : null;
}
