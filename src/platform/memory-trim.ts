import { nativeMemory, type NativeMemory } from './native.ts';

/** Quiet time after heavy work before memory is given back. */
const QUIET_MS = 20_000;
/** Time for V8's background sweeper to free what the collection found dead. */
const SWEEP_MS = 1_000;
/** After start-up's work: soon, once requests leave a gap this long. */
const STARTUP_MS = 2_000;
/** No request for this long before giving memory back: see MemoryTrim. */
const REQUEST_QUIET_MS = 2_000;

let requests = 0;

/** Counts a request (the http layer calls it for each): memory goes back between them. */
export function noteRequest(): void {
  requests++;
}

/**
 * Gives memory back to the kernel once heavy work has been quiet for a while, and once
 * after start-up. Uploads leave many dead 64 KiB body buffers (node reads request bodies
 * into malloc'd buffers): V8 frees a dead one's memory only when a collection finds it,
 * which an idle process may not run for minutes, and glibc then keeps the freed holes
 * resident. Start-up grows V8's young generation, which V8's own memory reducer gives back
 * 8 to more than 15 s later (measured). So this tells V8 memory is low (full collections,
 * young generation shrunk: the addon's lowMemory) and, once V8's sweeper has freed what
 * they found, runs malloc_trim(0). Only once no request has come for REQUEST_QUIET_MS:
 * done under load it cost node:http manifest GETs at c64 14% (medians of 4 alternating
 * runs each way), likely because it shrinks the young generation a busy process grew and
 * flushes compiled code (not measured). After four 256 MiB pushes on node:http an idle skiff held 61.0 MiB at
 * +45 s (2 runs; 69.4-71.8 with a plain full collection instead). About 20 ms of event loop
 * each time.
 */
export class MemoryTrim {
  /** Trims done (tests, logs). */
  count = 0;
  private lastWork = 0;
  private timer: NodeJS.Timeout | undefined;
  private seenRequests = 0;

  constructor(
    private readonly native: Pick<NativeMemory, 'trim' | 'lowMemory'> | null,
    private readonly quietMs = QUIET_MS,
    private readonly requestQuietMs = REQUEST_QUIET_MS,
    /** Requests counted so far (noteRequest's count; tests give their own). */
    private readonly requestCount: () => number = () => requests,
  ) {}

  /** Heavy work just ended; memory is given back once `quietMs` pass without more. */
  noteWork(): void {
    if (!this.native) return;
    this.lastWork = Date.now();
    if (!this.timer) this.arm(this.quietMs);
  }

  /** Start-up's own work (the index reconcile) is done: give back what it grew, shortly. */
  afterStartup(delayMs = STARTUP_MS): void {
    if (this.native && !this.timer) this.arm(delayMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    const native = this.native!;
    this.seenRequests = this.requestCount();
    this.timer = setTimeout(() => {
      const quiet = Date.now() - this.lastWork;
      if (quiet < this.quietMs) return this.arm(this.quietMs - quiet);
      if (this.requestCount() !== this.seenRequests) return this.arm(this.requestQuietMs);
      native.lowMemory();
      // V8 frees dead buffers' memory on a background thread after the collection.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        native.trim();
        this.count++;
      }, SWEEP_MS);
      this.timer.unref();
    }, ms);
    // A pending trim never keeps a finished process alive.
    this.timer.unref();
  }
}

let shared: MemoryTrim | undefined;

/** The process's trimmer: a no-op without skiff's native addon (it brings both calls). */
export function sharedMemoryTrim(): MemoryTrim {
  shared ??= new MemoryTrim(nativeMemory());
  return shared;
}
