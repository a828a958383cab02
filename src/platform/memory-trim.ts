import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { nativeTrim } from './native.ts';

/** Quiet time after heavy work before memory is given back. */
const QUIET_MS = 20_000;
/** Time for V8's background sweeper to free what the collection found dead. */
const SWEEP_MS = 1_000;

/**
 * Gives memory back to the kernel once heavy work has been quiet for a while. Uploads
 * leave many dead 64 KiB body buffers (node reads request bodies into malloc'd buffers):
 * V8 frees a dead one's memory only when a collection finds it, which an idle process
 * may not run for minutes, and glibc then keeps the freed holes resident. So after a quiet
 * spell this runs one full collection, then (once V8's sweeper has freed what it found)
 * malloc_trim(0). Measured after four 256 MiB pushes on node:http, at +45 s: 69.4-71.8 MiB
 * resident (3 runs), against 90.3-102.0 without any of this; with the hash thread on,
 * 76.5-77.3, and 105.7-112.6 with the trim but no collection. A few milliseconds of event
 * loop once per quiet spell.
 */
export class MemoryTrim {
  /** Trims done (tests, logs). */
  count = 0;
  private lastWork = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly trim: (() => boolean) | null,
    private readonly quietMs = QUIET_MS,
  ) {}

  /** Heavy work just ended; memory is given back once `quietMs` pass without more. */
  noteWork(): void {
    if (!this.trim) return;
    this.lastWork = Date.now();
    if (!this.timer) this.arm(this.quietMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      const quiet = Date.now() - this.lastWork;
      if (quiet < this.quietMs) return this.arm(this.quietMs - quiet);
      collectGarbage();
      // V8 frees dead buffers' memory on a background thread after the collection.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.trim!();
        this.count++;
      }, SWEEP_MS);
      this.timer.unref();
    }, ms);
    // A pending trim never keeps a finished process alive.
    this.timer.unref();
  }
}

let gc: (() => void) | undefined;

/**
 * One full, synchronous V8 collection. V8 offers no API for it without --expose-gc on
 * the command line, which a systemd unit or `node dist/skiff.mjs` would have to carry;
 * set at run time, the flag applies to contexts made afterwards, and the function is
 * taken from one such context (it never appears in the main context's globals).
 */
function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

let shared: MemoryTrim | undefined;

/** The process's trimmer: a no-op without skiff's native addon (it brings malloc_trim). */
export function sharedMemoryTrim(): MemoryTrim {
  shared ??= new MemoryTrim(nativeTrim());
  return shared;
}
