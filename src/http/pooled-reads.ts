/**
 * Blob downloads read into pooled buffers (buffer-pool.ts), one or two chunks ahead, and
 * shared between concurrent downloads of the same blob (shared-chunks.ts): the `readInto`
 * half of chunk-source.ts.
 */
import { BufferPool } from './buffer-pool.ts';
import type { ChunkLoan, ChunkSource } from './chunk-source.ts';
import { SharedChunks, type SharedChunk } from './shared-chunks.ts';
import type { StreamBody } from './types.ts';

/**
 * 256 KiB: the loopback socket takes a chunk this size in one send (32 concurrent pulls
 * saw no partial tryEnd at all); 64 and 128 KiB cost more CPU per GiB (more syscalls and
 * trips through JS), and 512 KiB cost more too (measured: more system time per GiB,
 * likely the buffer no longer staying in the core's cache between read and send).
 */
export const CHUNK_SIZE = 256 * 1024;
/**
 * 8 buffers (2 MiB) for all responses together: libuv reads at most 4 files at once and
 * the event loop sends one chunk at a time, so more buffers would only sit in queues.
 * Concurrent downloads of one blob share their chunks (shared-chunks.ts); 32 such pulls
 * ran as fast with 8 buffers as with 16, at ~5 MiB less peak RSS.
 */
const POOL_BUFFERS = 8;
/**
 * Reads in flight per response beyond the chunk being sent. A lone download reads two
 * ahead: a single 256 MiB pull went from ~1,460 to ~1,690 MiB/s (medians of four
 * alternating runs). Downloads sharing a blob read one ahead: the others' reads overlap
 * theirs anyway, and two ahead made 32 concurrent pulls slower (about 2,100 against
 * 2,600 MiB/s) and held more buffers.
 */
const READ_AHEAD_ALONE = 2;
const READ_AHEAD_SHARED = 1;

/**
 * Pooled buffers that responses waiting on their sockets may keep (ChunkSource.hold: the
 * chunk being sent and those read ahead), so stalled clients can never take more than half
 * the pool from the others. Holding beats copying the unsent tail, which cost up to 8 MiB
 * for 32 pulls of one 16 MiB blob (uWS, peak RSS 69-76 against 82-85 MiB); past the limit a
 * re-readable body lets its chunks go (letGo) and reads them again later.
 */
const HELD_MAX = POOL_BUFFERS / 2;

const pool = new BufferPool(CHUNK_SIZE, POOL_BUFFERS);
/** Pooled buffers kept by responses holding (see HELD_MAX). */
let waitingPins = 0;
const shared = new SharedChunks(pool);

/** A chunk being read or read: a pooled buffer of its own, or a shared chunk's. */
interface Pending {
  buf: Buffer;
  length: number;
  read: Promise<number>;
  shared: SharedChunk | undefined;
  /** Where the chunk's bytes start in the source (its `position`); NaN when it has none. */
  at: number;
  /** `buf` is a private copy (see shed): nothing to give back. */
  private?: boolean;
}

/** The unsent end of a chunk let go (letGo), to be read again (again). */
interface Tail {
  at: number;
  length: number;
  /** The shared chunk it came from, which may still be held or idle, and its offset there. */
  key: string | undefined;
  from: number;
}

/** The chunks of a `readInto` body (see ChunkSource for the loan rules). */
export class PooledReads implements ChunkSource {
  readonly lends = true;
  /** The chunk last handed out (given back on the next call). */
  #lent: Pending | undefined;
  /** Reads started ahead, in order. */
  readonly #ahead: Pending[] = [];
  /** Bytes the reads in `#ahead` will deliver. */
  #claimed = 0;
  #closed = false;
  /** Buffers counted in `waitingPins` while this response holds; 0 when it does not. */
  #pins = 0;
  /** Bytes of the lent chunk, and where in it the piece handed out starts (after `again`). */
  #lentBytes = 0;
  #lentFrom = 0;
  /**
   * Offset of the next byte to claim. Ahead of it the stream's `position` may already be
   * (chunks read ahead, then given back by letGo): those bytes are read again with readAt.
   */
  #pos: number;
  /** Set by letGo, taken by again. */
  #tail: Tail | undefined;
  /** The source re-reads past bytes (readAt), so a slow response keeps none of them. */
  readonly #rereads: boolean;
  readonly #stream: StreamBody['stream'];
  /** Set when chunks of this body may be shared with other downloads of the same content. */
  readonly #shareKey: string | undefined;

  constructor(body: StreamBody) {
    this.#stream = body.stream;
    const s = body.stream;
    this.#shareKey = body.shareKey !== undefined && s.skip && s.position !== undefined ? body.shareKey : undefined;
    if (this.#shareKey !== undefined) shared.open(this.#shareKey);
    this.#rereads = s.readAt !== undefined && s.keepOpen !== undefined && s.position !== undefined;
    if (this.#rereads) s.keepOpen!();
    this.#pos = s.position ?? NaN;
  }

  async next(wanted: number): Promise<Buffer | null> {
    // Back to the pool first, so other responses waiting for a buffer take turns with us.
    this.release();
    if (this.#closed) return null;
    if (this.#ahead.length === 0 && !(await this.#startWaiting(wanted))) return null;
    const pending = this.#ahead.shift()!;
    this.#claimed -= pending.length;
    let n: number;
    try {
      n = await pending.read;
    } catch (err) {
      this.#drop(pending, true);
      throw err;
    }
    if (this.#closed || n === 0) {
      this.#drop(pending, true);
      return null;
    }
    // Read ahead only with buffers nobody else is waiting for.
    const depth = this.#shareKey !== undefined && shared.shared(this.#shareKey) ? READ_AHEAD_SHARED : READ_AHEAD_ALONE;
    while (this.#ahead.length < depth && wanted - n - this.#claimed > 0 && !pool.contended) {
      if (!this.#tryStart(wanted - n - this.#claimed)) break;
    }
    this.#lent = pending;
    this.#lentBytes = n;
    this.#lentFrom = 0;
    return n === pending.buf.length ? pending.buf : pending.buf.subarray(0, n);
  }

  /** Starts the next chunk (at most `unclaimed` bytes) from a shared chunk or a free buffer. */
  #tryStart(unclaimed: number): boolean {
    const length = this.#lengthOf(unclaimed);
    const key = this.#keyOf(length);
    if (key !== undefined && this.#join(key, length)) return true;
    const buf = pool.tryTake();
    if (!buf) return false;
    this.#read(buf, length, key);
    return true;
  }

  /** As #tryStart, waiting for a buffer when none is free; false when closed meanwhile. */
  async #startWaiting(unclaimed: number): Promise<boolean> {
    if (this.#tryStart(unclaimed)) return true;
    const buf = await pool.take();
    if (this.#closed) {
      pool.give(buf);
      return false;
    }
    // While we waited, another download may have started this very chunk.
    const length = this.#lengthOf(unclaimed);
    const key = this.#keyOf(length);
    if (key !== undefined && this.#join(key, length)) {
      pool.give(buf);
      return true;
    }
    this.#read(buf, length, key);
    return true;
  }

  /** The shared-chunk key of our next `length` bytes; undefined while no other download of this content runs. */
  #keyOf(length: number): string | undefined {
    const content = this.#shareKey;
    return content === undefined || !shared.shared(content) ? undefined : `${content}@${this.#pos}+${length}`;
  }

  /** The next chunk's length: a chunk, or what is left, and never past bytes given back. */
  #lengthOf(unclaimed: number): number {
    const behind = this.#behind();
    return Math.min(CHUNK_SIZE, unclaimed, behind > 0 ? behind : Infinity);
  }

  /** Bytes before the stream's position that were handed out once and given back (letGo). */
  #behind(): number {
    return this.#rereads ? this.#stream.position! - this.#pos : 0;
  }

  /** Uses another download's chunk at our offset, if there is one. */
  #join(key: string, length: number): boolean {
    const c = shared.acquire(key);
    if (!c) return false;
    const at = this.#pos;
    if (this.#behind() === 0) this.#stream.skip!(length);
    this.#pos += length;
    this.#claimed += length;
    this.#ahead.push({ buf: c.buf, length, read: c.read, shared: c, at });
    return true;
  }

  #read(buf: Buffer, length: number, key: string | undefined): void {
    const at = this.#pos;
    const again = this.#behind() > 0;
    const read = again ? this.#stream.readAt!(limit(buf, length), at) : this.#stream.readInto!(limit(buf, length));
    this.#claimed += length;
    this.#pos += length;
    // A failure is reported when this chunk is asked for; until then it must not go unhandled.
    read.catch(() => undefined);
    this.#ahead.push({ buf, length, read, shared: key === undefined ? undefined : shared.add(this.#shareKey!, key, buf, length, read), at });
  }

  /** Gives a chunk's buffer back: to the shared chunks, or to the pool once its read is over. */
  #drop(p: Pending, settled = false): void {
    if (p.private) {
      // A shed chunk whose read is still in flight gives its pooled buffer back itself.
      return;
    }
    if (p.shared) shared.release(p.shared);
    else if (settled) pool.give(p.buf);
    else void p.read.then(() => pool.give(p.buf), () => pool.give(p.buf));
  }

  /** Gives the last chunk's buffer back now (the caller copied what it still needs). */
  release(): void {
    this.#unhold();
    if (this.#lent) this.#drop(this.#lent, true);
    this.#lent = undefined;
  }

  hold(): boolean {
    const p = this.#lent;
    if (this.#pins > 0 || p?.private) return true;
    if (!p) return false;
    // What this response keeps while it waits: the chunk being sent and those read ahead.
    const pins = 1 + this.#ahead.length;
    if (waitingPins + pins > HELD_MAX || pool.contended) return false;
    waitingPins += pins;
    this.#pins = pins;
    return true;
  }

  letGo(from: number): boolean {
    const p = this.#lent;
    const start = this.#lentFrom + from; // `from` counts from the piece handed out
    if (!this.#rereads || !p || p.private || !(start < this.#lentBytes)) return false;
    this.#tail = { at: p.at + start, length: this.#lentBytes - start, key: p.shared?.key, from: start };
    this.release();
    // The chunks read ahead go back too, to be read (or joined) again when asked for.
    if (this.#ahead.length > 0) {
      this.#pos = this.#ahead[0]!.at;
      this.#claimed = 0;
      for (const q of this.#ahead.splice(0)) this.#drop(q);
    }
    return true;
  }

  async again(): Promise<Buffer> {
    const t = this.#tail;
    this.#tail = undefined;
    if (!t || this.#closed) throw new Error('nothing to read again');
    // The chunk is often still in the shared cache: other downloads were at the same offset.
    const c = t.key === undefined ? undefined : shared.acquire(t.key);
    if (c) {
      this.#lent = { buf: c.buf, length: c.length, read: c.read, shared: c, at: t.at - t.from };
      this.#lentFrom = t.from;
      this.#lentBytes = t.from + t.length;
      await c.read; // a failed read stays lent: release (or close) hands it back
      return c.buf.subarray(t.from, t.from + t.length);
    }
    // This response holds no buffer now, so it waits its turn like a new download.
    const buf = pool.tryTake() ?? (await pool.take());
    if (this.#closed) {
      pool.give(buf);
      throw new Error('download closed');
    }
    let read: Promise<number>;
    try {
      read = this.#stream.readAt!(buf.subarray(0, t.length), t.at);
    } catch (err) {
      pool.give(buf);
      throw err;
    }
    this.#lent = { buf, length: t.length, read, shared: undefined, at: t.at };
    this.#lentFrom = 0;
    this.#lentBytes = t.length;
    await read;
    return buf.subarray(0, t.length);
  }

  #unhold(): void {
    waitingPins -= this.#pins;
    this.#pins = 0;
  }

  keep(): ChunkLoan {
    this.#unhold();
    const p = this.#lent;
    this.#lent = undefined;
    let open = p !== undefined;
    return {
      done: () => {
        if (open) this.#drop(p!, true);
        open = false;
      },
      forget: () => {
        if (!open) return;
        open = false;
        if (p!.shared) shared.detach(p!.shared);
        else if (!p!.private) pool.forget(p!.buf);
      },
    };
  }

  shed(): void {
    for (const p of this.#ahead) {
      if (p.private) continue;
      p.private = true;
      const { buf, shared: chunk } = p;
      const giveBack = () => {
        if (chunk) shared.release(chunk);
        else pool.give(buf);
        p.shared = undefined;
      };
      // Once the read is in, keep a copy and hand the pooled buffer (or shared chunk) back.
      p.read = p.read.then((n) => {
        p.buf = Buffer.from(buf.subarray(0, n));
        giveBack();
        return n;
      });
      // A failed read gives the buffer back too (and is not an unhandled rejection here;
      // whoever awaits p.read sees the error).
      p.read.catch(giveBack);
    }
  }

  close(completed: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#shareKey !== undefined) shared.close(this.#shareKey);
    // A source kept open for readAt closes only when told to.
    if (!completed || this.#rereads) this.#stream.destroy?.();
    this.release();
    // A read in flight still writes into its buffer: it is pooled only once the read is over.
    this.#claimed = 0;
    for (const p of this.#ahead.splice(0)) this.#drop(p);
  }
}

/** Pooled buffers kept by responses holding while their sockets drain (for tests). */
export const heldBuffers = (): number => waitingPins;

/** The pooled buffer, shortened so a read never goes past the bytes still wanted. */
function limit(buf: Buffer, wanted: number): Buffer {
  return wanted < buf.length ? buf.subarray(0, wanted) : buf;
}
