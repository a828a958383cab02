import { statfs } from 'node:fs/promises';

/**
 * Free space of the filesystem holding a path, sampled in the background. Readers get the
 * last sample; `refresh()` forces one (after ENOSPC). One statfs(2) per sample: the
 * benchmark profile showed systeminformation's fsSize() running execSync (`cat
 * /proc/mounts`, then `df`), which blocks the event loop for every request in flight.
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

/** Bytes available to unprivileged writers on the filesystem holding `path`. */
export async function freeBytes(path: string): Promise<number | null> {
  const st = await statfs(path);
  return Number(st.bavail) * Number(st.bsize);
}
