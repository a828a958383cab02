/**
 * A request body as an async iterable, fed by uWS `onData` callbacks.
 *
 * Why a queue: uWS pushes chunks whenever the socket has data, while the
 * handler pulls at disk speed. Each chunk is copied (uWS neuters the
 * ArrayBuffer when the callback returns) and queued; past `highWater` queued
 * bytes the socket is paused, and resumed when the consumer drains below
 * `lowWater`. Memory per upload is therefore bounded by about highWater plus
 * one socket read (uSockets reads up to 512 KiB at a time), whatever the blob size.
 *
 * Where the copies go: chunks of 64 KiB and more (nearly all of a push: uSockets hands
 * over up to 512 KiB per read) are copied into recycled 512 KiB slots. A consumer that
 * reads in `lend` mode gives each slot back when it asks for the next chunk; a new
 * buffer per chunk cost a 512 KiB allocation with fresh (page-faulting) memory each and
 * made the garbage collector run mark-compacts for the external memory: together ~30%
 * of the server's CPU of a push in the profile.
 */

/** The engine's flow control for one request (uWS res.pause/res.resume). */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

/** Default pause threshold: enough to keep a disk busy, small enough for an edge box. */
export const BODY_HIGH_WATER = 4 * 1024 * 1024;

/** uSockets' receive buffer: no onData chunk is larger (over TLS they are smaller). */
const SLOT = 512 * 1024;
/** Smaller chunks get their own copy: a slot each would multiply the memory they hold. */
const SLOT_MIN = 64 * 1024;
/** Idle slots kept for the next chunks and uploads (8 MiB at most). */
const KEEP_SLOTS = 16;
const freeSlots: Buffer[] = [];

function recycle(slot: Buffer | undefined): void {
  if (slot && freeSlots.length < KEEP_SLOTS) freeSlots.push(slot);
}

/**
 * The memory a queued copy holds: a whole slot, however little of it the chunk fills. The
 * pause threshold counts this, not the bytes. uSockets also hands over reads well under
 * 512 KiB (in one run of pushes, 347 of 1,736 slot-sized reads were 256 KiB or less), and
 * counting bytes let 4 MiB of 64 KiB reads hold 64 slots (32 MiB) per upload. The same
 * pushes (16 MiB warm-ups, 256 MiB whole, 2 x 256 MiB in 8 MiB chunks, uWS) allocated 114
 * slots before, where 16 are kept, and 10 with this.
 */
function held(copy: { data: Buffer; slot: Buffer | undefined }): number {
  return copy.slot ? SLOT : copy.data.length;
}

/** A copy of engine memory: in a slot when worth it, else a buffer of its own. */
function copyOut(chunk: ArrayBuffer): { data: Buffer; slot: Buffer | undefined } {
  const n = chunk.byteLength;
  const slot = n >= SLOT_MIN && n <= SLOT ? (freeSlots.pop() ?? Buffer.allocUnsafeSlow(SLOT)) : undefined;
  const data = slot ? slot.subarray(0, n) : Buffer.allocUnsafe(n);
  data.set(new Uint8Array(chunk));
  return { data, slot };
}

export class BodyQueue {
  readonly #flow: FlowControl;
  readonly #high: number;
  readonly #low: number;
  #chunks: Array<{ data: Buffer; slot: Buffer | undefined }> = [];
  /** Memory held by queued copies (see `held`). */
  #queued = 0;
  #received = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #paused = false;
  #taken = false;
  #discarding = false;

  constructor(flow: FlowControl, highWater = BODY_HIGH_WATER, lowWater = Math.floor(highWater / 4)) {
    this.#flow = flow;
    this.#high = highWater;
    this.#low = lowWater;
  }

  /** Bytes received from the client so far (queued, consumed or discarded). */
  get received(): number {
    return this.#received;
  }

  /** True once the last chunk has arrived. */
  get complete(): boolean {
    return this.#ended;
  }

  /** True while the socket is paused because the consumer lags. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Feed one `onData` chunk. Must run inside the callback: the chunk is copied here. */
  push(chunk: ArrayBuffer, isLast: boolean): void {
    const n = chunk.byteLength;
    this.#received += n;
    if (n > 0 && !this.#discarding) {
      const copy = copyOut(chunk); // uWS neuters `chunk` when the callback returns
      this.#chunks.push(copy);
      this.#queued += held(copy);
      if (!this.#paused && this.#queued > this.#high) {
        this.#paused = true;
        this.#flow.pause();
      }
    }
    if (isLast) this.#ended = true;
    this.#notify();
  }

  /** The client went away: the consumer's next read throws `err`. */
  fail(err: Error): void {
    if (this.#ended) return;
    this.#error = err;
    this.#drop();
    this.#queued = 0;
    this.#notify();
  }

  /**
   * Nobody will read the rest: drop what is queued, discard what still comes
   * and let the socket flow, so the connection reaches the next request
   * instead of staying paused forever.
   */
  discard(): void {
    this.#discarding = true;
    this.#drop();
    this.#queued = 0;
    if (this.#paused) {
      this.#paused = false;
      this.#flow.resume();
    }
    this.#notify();
  }

  /**
   * The body, readable once. A second call yields an iterable that throws. With `lend`
   * each chunk is valid until the next is asked for (its slot is reused then).
   */
  iterate(lend = false): AsyncIterable<Buffer> {
    if (this.#taken) {
      return {
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('request body already consumed')) }),
      };
    }
    this.#taken = true;
    return this.#generate(lend);
  }

  async *#generate(lend: boolean): AsyncGenerator<Buffer> {
    let lent: Buffer | undefined;
    try {
      for (;;) {
        // The consumer asked for the next chunk: it is done with the one it was lent.
        recycle(lent);
        lent = undefined;
        if (this.#error) throw this.#error;
        if (this.#discarding) return;
        const chunk = this.#chunks.shift();
        if (chunk) {
          this.#queued -= held(chunk);
          if (this.#paused && this.#queued <= this.#low) {
            this.#paused = false;
            this.#flow.resume();
          }
          // Without `lend` the consumer keeps the chunk, and with it the slot.
          if (lend) lent = chunk.slot;
          yield chunk.data;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      recycle(lent);
      // The consumer stopped early (break, throw, return): free the queue and
      // keep the socket moving; a partial body is never resumed later.
      if (!this.#ended && !this.#error) this.discard();
    }
  }

  /** Drops what is queued; nobody has seen those chunks, so their slots are free. */
  #drop(): void {
    for (const c of this.#chunks) recycle(c.slot);
    this.#chunks = [];
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
