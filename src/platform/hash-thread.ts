import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import type { Algorithm, RunningHash } from '../oci/index.ts';

/** Bytes per shared slot: one node:http body slot (512 KiB) fills exactly one. */
const SLOT = 512 * 1024;
/** How far hashing may fall behind the socket before uploads wait for it (4 MiB). */
const SLOTS = 8;
/** With nothing to hash for this long the thread stops and its memory goes back. */
const IDLE_MS = 30_000;

/**
 * The thread's whole program. Slots are views into one SharedArrayBuffer: the main thread
 * copies a piece in, posts its number, and may reuse it once the thread posts it back.
 * postMessage orders the copy before the hashing and the hashing before the reuse.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { slots, slotBytes } = workerData;
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.t === 'update') {
    const h = hashes.get(m.id);
    if (h) h.update(new Uint8Array(slots, m.slot * slotBytes, m.len));
    parentPort.postMessage({ t: 'free', slot: m.slot });
  } else if (m.t === 'open') hashes.set(m.id, createHash(m.algorithm));
  else if (m.t === 'peek') {
    const h = hashes.get(m.id);
    parentPort.postMessage({ t: 'peek', req: m.req, hex: h ? h.copy().digest('hex') : null });
  } else if (m.t === 'close') hashes.delete(m.id);
});
`;

type Reply = { t: 'free'; slot: number } | { t: 'peek'; req: number; hex: string | null };

/**
 * SHA-256/512 of uploads on one worker thread, so the event loop only parses, copies and
 * writes while another core hashes. Measured on 2 cores, 6 alternating rounds of four
 * 256 MiB pushes: on node:http the event loop's CPU fell by a third (1.7 to 1.1 s per GiB)
 * and pushes after the first went from 676 to 794 MiB/s (medians), for 9% more CPU in all
 * (the copy into the slots, the messages); the first push after a start (which also grows
 * the heap) and pushes on uWS, whose event loop has less to do, did not get faster. Where
 * the event loop is the limit (more cores, slower ones) it should gain more (not measured).
 * Shared by the whole process, like libuv's pool. It starts with the first hash and stops
 * after IDLE_MS without work; a hash opened before a stop (or a crash) is lost, and its
 * owner rebuilds it from the written file.
 */
export class HashThread {
  /** Bumped whenever a worker goes away: hashes opened under an earlier one are lost. */
  generation = 0;
  private worker: Worker | undefined;
  private slots: SharedArrayBuffer | undefined;
  private free: number[] = [];
  private waiters: (() => void)[] = [];
  private peeks = new Map<number, (hex: string | null) => void>();
  private nextId = 1;
  private nextReq = 1;
  private lastUse = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly idleMs = IDLE_MS) {}

  /** A new running hash on the thread (started if it is not running). */
  open(algorithm: Algorithm): RunningHash {
    const worker = this.ensure();
    const id = this.nextId++;
    worker.postMessage({ t: 'open', id, algorithm });
    return new OffThreadHash(this, id, algorithm, this.generation);
  }

  /** True while a worker runs (tests). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Copies up to one slot of `chunk` from `at` and posts it for hash `id`; returns the bytes
   * taken, or 0 when every slot is busy (wait with {@link slotFreed}).
   */
  send(id: number, chunk: Uint8Array, at: number): number {
    if (!this.worker || !this.slots || this.free.length === 0) return 0;
    this.holdOpen();
    const slot = this.free.pop()!;
    const len = Math.min(SLOT, chunk.length - at);
    new Uint8Array(this.slots, slot * SLOT, len).set(chunk.subarray(at, at + len));
    this.worker.postMessage({ t: 'update', id, slot, len });
    this.lastUse = Date.now();
    return len;
  }

  /** Resolves when a slot comes back or the thread goes away. */
  slotFreed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The digest of hash `id` so far (hex), once every piece posted before has been hashed. */
  peek(id: number): Promise<string | null> {
    if (!this.worker) return Promise.resolve(null);
    const req = this.nextReq++;
    this.holdOpen();
    this.worker.postMessage({ t: 'peek', id, req });
    this.lastUse = Date.now();
    return new Promise((resolve) => this.peeks.set(req, resolve));
  }

  close(id: number): void {
    this.worker?.postMessage({ t: 'close', id });
  }

  /** Stops the thread now (tests, shutdown); running hashes are lost. */
  async stop(): Promise<void> {
    const w = this.worker;
    this.gone();
    await w?.terminate();
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const slots = new SharedArrayBuffer(SLOT * SLOTS);
    // Small heap limits: the thread holds a few hash contexts and short messages. No
    // inherited flags: the program is plain CommonJS (not --input-type=module), needs no
    // loader (--import) and should not write profiles of its own (--cpu-prof).
    // worker_threads loads with the first thread: the hash thread is opt-in, and the module
    // is ~0.1 MiB of heap in every process that never starts one (measured).
    const { Worker } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { slots, slotBytes: SLOT },
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    worker.on('message', (m: Reply) => this.onReply(m));
    // A crash loses the running hashes; their owners rebuild them from the files.
    worker.on('error', () => this.worker === worker && this.gone());
    worker.on('exit', () => this.worker === worker && this.gone());
    // After the listeners, as adding a 'message' listener refs the worker's port again.
    worker.unref();
    this.worker = worker;
    this.slots = slots;
    this.free = Array.from({ length: SLOTS }, (_, i) => i);
    this.lastUse = Date.now();
    this.armIdle(this.idleMs);
    return worker;
  }

  private onReply(m: Reply): void {
    if (m.t === 'free') {
      this.free.push(m.slot);
      this.waiters.shift()?.();
    } else {
      const resolve = this.peeks.get(m.req);
      this.peeks.delete(m.req);
      resolve?.(m.hex);
    }
    if (this.free.length === SLOTS && this.peeks.size === 0) this.worker?.unref();
  }

  /**
   * Keeps the process alive while the thread owes an answer (a CLI command may have nothing
   * else running); an idle thread is unref'd so it never holds a finished process open.
   */
  private holdOpen(): void {
    if (this.free.length === SLOTS && this.peeks.size === 0) this.worker?.ref();
  }

  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      const quiet = Date.now() - this.lastUse;
      const busy = this.peeks.size > 0 || this.free.length < SLOTS;
      if (!busy && quiet >= this.idleMs) void this.stop();
      else this.armIdle(Math.max(this.idleMs - quiet, 1000));
    }, ms);
    this.idleTimer.unref();
  }

  /** Forgets the worker: hashes become lost, waiting uploads and digests are released. */
  private gone(): void {
    if (!this.worker) return;
    this.worker = undefined;
    this.slots = undefined;
    this.free = [];
    this.generation++;
    clearTimeout(this.idleTimer);
    for (const wake of this.waiters.splice(0)) wake();
    for (const resolve of this.peeks.values()) resolve(null);
    this.peeks.clear();
  }
}

/** A running hash kept on the {@link HashThread}; only its byte count lives here. */
class OffThreadHash implements RunningHash {
  private bytes = 0;
  private disposed = false;

  constructor(
    private readonly thread: HashThread,
    private readonly id: number,
    readonly algorithm: Algorithm,
    private readonly generation: number,
  ) {}

  get size(): number {
    return this.bytes;
  }

  update(chunk: Uint8Array): void | Promise<void> {
    this.bytes += chunk.length;
    return this.feed(chunk, 0);
  }

  peek(): string | null | Promise<string | null> {
    if (this.lost) return null;
    return this.thread.peek(this.id).then((hex) => (hex === null ? null : `${this.algorithm}:${hex}`));
  }

  dispose(): void {
    if (!this.lost) this.thread.close(this.id);
    this.disposed = true;
  }

  private get lost(): boolean {
    return this.disposed || this.generation !== this.thread.generation;
  }

  /** Posts `chunk` from `at` slot by slot; synchronous unless every slot is busy. */
  private feed(chunk: Uint8Array, at: number): void | Promise<void> {
    while (at < chunk.length) {
      // Lost: the rest is not hashed, and peek() answers null so the owner rebuilds.
      if (this.lost) return;
      const n = this.thread.send(this.id, chunk, at);
      if (n === 0) return this.thread.slotFreed().then(() => this.feed(chunk, at));
      at += n;
    }
  }
}

let shared: HashThread | null | undefined;

/**
 * The process's hash thread when `SKIFF_HASH_THREAD=on` and there is more than one core
 * (on one, it would only add the copy and the messages to the same core's work); else null.
 * Off by default: on the 2-core machine the benches run on, it cost 9-15% more CPU per GiB
 * pushed on node:http (8-30% on uWS) and 10-13 MiB more peak RSS during pushes, and only
 * pushes after the first got faster, on node:http only. An edge box counts joules and
 * mebibytes; one with cores to spare that takes many large pushes can turn it on.
 */
export function sharedHashThread(env: NodeJS.ProcessEnv = process.env): HashThread | null {
  if (shared === undefined) {
    const on = env.SKIFF_HASH_THREAD?.trim().toLowerCase() === 'on';
    shared = on && availableParallelism() > 1 ? new HashThread() : null;
  }
  return shared;
}
