/**
 * A request body as an async iterable, fed by uWS `onData` callbacks.
 *
 * Why a queue: uWS pushes chunks whenever the socket has data, while the
 * handler pulls at disk speed. Each chunk is copied (uWS neuters the
 * ArrayBuffer when the callback returns) and queued; past `highWater` queued
 * bytes the socket is paused, and resumed when the consumer drains below
 * `lowWater`. Memory per upload is therefore bounded by about highWater plus
 * one socket read (uSockets reads up to 512 KiB at a time), whatever the blob size.
 */

/** The engine's flow control for one request (uWS res.pause/res.resume). */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

/** Default pause threshold: enough to keep a disk busy, small enough for an edge box. */
export const BODY_HIGH_WATER = 4 * 1024 * 1024;

export class BodyQueue {
  readonly #flow: FlowControl;
  readonly #high: number;
  readonly #low: number;
  #chunks: Buffer[] = [];
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
      this.#chunks.push(Buffer.from(new Uint8Array(chunk))); // copies out of engine memory
      this.#queued += n;
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
    this.#chunks = [];
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
    this.#chunks = [];
    this.#queued = 0;
    if (this.#paused) {
      this.#paused = false;
      this.#flow.resume();
    }
    this.#notify();
  }

  /** The body, readable once. A second call yields an iterable that throws. */
  iterate(): AsyncIterable<Buffer> {
    if (this.#taken) {
      return {
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('request body already consumed')) }),
      };
    }
    this.#taken = true;
    return this.#generate();
  }

  async *#generate(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        if (this.#error) throw this.#error;
        if (this.#discarding) return;
        const chunk = this.#chunks.shift();
        if (chunk) {
          this.#queued -= chunk.length;
          if (this.#paused && this.#queued <= this.#low) {
            this.#paused = false;
            this.#flow.resume();
          }
          yield chunk;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      // The consumer stopped early (break, throw, return): free the queue and
      // keep the socket moving; a partial body is never resumed later.
      if (!this.#ended && !this.#error) this.discard();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
