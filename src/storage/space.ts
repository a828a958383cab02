import { RegistryError } from '../errors/index.ts';
import type { FreeSpaceWatcher } from '../platform/disk.ts';

/**
 * Refuses new upload work while the disk is below its floor (`storage.minFreeSpace`):
 * a device whose only disk fills up stops being able to log, update or boot cleanly.
 * Reads, deletes and manifest pushes (a few KiB, finishing pushes already under way)
 * are still served.
 */
export class SpaceGuard {
  constructor(private readonly watcher: FreeSpaceWatcher | null, private readonly floor: number) {}

  /** Throws INSUFFICIENT_STORAGE (507) when free space is known and below the floor. */
  check(incoming = 0): void {
    if (!this.watcher || this.floor <= 0) return;
    const free = this.watcher.available;
    if (free === null) return;
    if (free - incoming < this.floor) {
      throw new RegistryError('INSUFFICIENT_STORAGE', `not enough free space: ${mib(free)} MiB free, ${mib(this.floor)} MiB reserved (storage.minFreeSpace)`, {
        detail: { free, reserved: this.floor, incoming },
      });
    }
  }

  /** After a write failed for lack of space: take a fresh sample so the next check knows. */
  noticeFull(): void {
    void this.watcher?.refresh();
  }
}

function mib(n: number): string {
  return (n / 1048576).toFixed(1);
}
