import { open, type FileHandle } from 'node:fs/promises';
import type { RunningHash } from '../../oci/index.ts';
import type { DirectFile, DirectIo } from '../../platform/native.ts';
import {
  BOUNCE_ALIGN,
  BOUNCES,
  DIRECT_AFTER,
  claimDirectSlot,
  closeDirectFile,
  directSlotFree,
  pwrite,
  releaseBounce,
  releaseDirectSlot,
  takeBounce,
  type ParkedFile,
} from './direct-writes.ts';

export { closeParked, DIRECT_AFTER, MAX_DIRECT, type ParkedFile } from './direct-writes.ts';

/**
 * Bytes of a filling bounce buffer hashed at once (uWS chunked pushes, 8 MiB PATCHes: 712-771
 * MiB/s against 682-747 hashing whole buffers; 1 MiB steps gained nothing more).
 */
const HASH_STEP = 2 * 1024 * 1024;

/**
 * The sink of an upload: its bytes, in order, onto the end of the session file and through
 * the running hash. An append known to be larger than DIRECT_AFTER, and the bytes past the
 * first DIRECT_AFTER of one of unknown length, go with O_DIRECT from aligned bounce buffers
 * when the addon and the file system allow; the rest goes through the page cache.
 *
 * Why direct: a buffered write first needs a free page-cache page per 4 KiB, and on the bench
 * VM (whose host takes back free guest memory) finding them cost 0.2 to 3.2 s of system CPU
 * per GiB, minutes apart; O_DIRECT wrote the same file for 0.2 s (dd, 1 GiB). On an edge box
 * a 1 GiB push also no longer evicts the blobs being served from a small page cache. Small
 * bodies (manifests, configs, small layers) stay buffered: a direct write waits for the device.
 *
 * Why the hash is here: with direct writes each chunk is copied into a bounce buffer anyway,
 * and the buffer is hashed in steps as it fills and written once full, on libuv's pool (a
 * native hasher hashes in place), while the event loop fills the other one. Hashing each
 * chunk before taking the next left the event loop waiting for a pool round trip per socket
 * read instead; hashing each 512 KiB chunk as its own job cost more round trips than it saved.
 *
 * Direct writes need aligned file offsets, so the bytes up to the next boundary go buffered
 * first, and the last partial block at the end; the two kinds never touch the same block. A
 * direct write the kernel refuses (EINVAL) is redone buffered, and so is the rest.
 */
export class Appender {
  #offset: number;
  readonly #ino: number;
  #accepted = 0;
  #direct: DirectFile | null = null;
  #directTried = false;
  /** A direct descriptor kept from an earlier append (see ParkedFile), used once direct writes start. */
  #parkedDirect: DirectFile | null;
  /** A direct write was refused: the bounce buffers are written buffered from then on. */
  #refused = false;
  #bounce: Buffer[] = [];
  /** Per bounce buffer: its hash and write, once flushed. */
  #inflight: (Promise<void> | null)[] = [];
  #current = 0;
  #fill = 0;
  /** Bytes of the current bounce buffer queued for hashing, and those hashes. */
  #hashedTo = 0;
  #bounceHashes: Promise<void>[] = [];
  /** Hash updates run one after another, in byte order. */
  #hashed: Promise<void> = Promise.resolve();
  #failure: unknown;
  /** The first file offset a failed write may have left out (see `#close`). */
  #lostFrom: number | undefined;

  private constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    size: number,
    ino: number,
    private readonly io: DirectIo | null,
    private hasher: RunningHash | null,
    private readonly expected: number,
    parkedDirect: DirectFile | null,
  ) {
    this.#offset = size;
    this.#ino = ino;
    this.#parkedDirect = parkedDirect;
  }

  /**
   * Opens `path` (which must exist) for appending; `io` null writes everything buffered.
   * `expected`: the bytes this append will bring when the request said so (Content-Length);
   * more than DIRECT_AFTER goes direct from the first byte. `parked`: the descriptors an
   * earlier append of this file left open (`finish(true)`), which the caller has checked
   * still name `path` at the size they record; taken over, so nothing is opened.
   */
  static async open(path: string, io: DirectIo | null, hasher: RunningHash | null = null, expected = 0, parked?: ParkedFile): Promise<Appender> {
    if (parked) return new Appender(parked.fh, path, parked.size, parked.ino, io, hasher, expected, parked.direct);
    const fh = await open(path, 'r+');
    try {
      const st = await fh.stat();
      return new Appender(fh, path, Number(st.size), Number(st.ino), io, hasher, expected, null);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Takes `chunk`; resolves once its memory may be reused (it was hashed and written, or copied). */
  async write(chunk: Buffer): Promise<void> {
    this.#rethrow();
    this.#accepted += chunk.length;
    if (this.#fill === 0 && !this.#startDirect()) return this.#hashAndWrite(chunk);
    const direct = this.#direct!;
    let at = 0;
    // Up to the next aligned offset through the page cache (a partial block from before).
    const misaligned = this.#fill === 0 ? this.#offset % direct.offsetAlign : 0;
    if (misaligned !== 0) {
      at = Math.min(chunk.length, direct.offsetAlign - misaligned);
      await this.#hashAndWrite(chunk.subarray(0, at));
    }
    while (at < chunk.length) {
      const buf = await this.#bounceBuffer();
      const n = chunk.copy(buf, this.#fill, at);
      at += n;
      this.#fill += n;
      // Hashed a step at a time as it fills, not only once full: the hash (1.4 GiB/s) is
      // slower than a loopback client, and hashing whole buffers left 4 MiB of it for after
      // the last byte of every PATCH.
      if (this.#fill - this.#hashedTo >= HASH_STEP && this.#fill < buf.length) this.#hashUpTo(this.#fill);
      if (this.#fill === buf.length) this.#flushBounce(buf.length);
    }
  }

  /** Hashes and writes what is still held, and closes the file. */
  async finish(): Promise<void>;
  /**
   * As finish(), but on success the file stays open and is returned, for the next append of
   * the same file to take up (`open(..., parked)`); its bounce buffers are given back.
   */
  async finish(park: true): Promise<ParkedFile>;
  async finish(park = false): Promise<ParkedFile | void> {
    try {
      await this.#drain();
    } catch (err) {
      await this.#close();
      throw err;
    }
    if (!park) return this.#close();
    await this.#settleAll();
    this.#releaseBounces();
    // A descriptor the kernel refused direct writes on is not worth keeping.
    const direct = this.#refused ? this.#closeDirect() : (this.#direct ?? this.#parkedDirect);
    this.#direct = null;
    this.#parkedDirect = null;
    return { fh: this.fh, direct: await direct, size: this.#offset, ino: this.#ino };
  }

  /**
   * After a failure: writes what is held if it can (every byte taken is on disk, as when each
   * chunk was written before the next), and closes. The running hash is left alone: the
   * caller drops it.
   */
  async abort(): Promise<void> {
    this.hasher = null;
    try {
      await this.#drain();
    } catch {
      // The caller is already failing with the first error.
    } finally {
      await this.#close();
    }
  }

  async #drain(): Promise<void> {
    if (this.#fill > 0) {
      const buf = this.#bounce[this.#current]!;
      const fill = this.#fill;
      this.#hashUpTo(fill);
      const whole = fill - (fill % this.#direct!.offsetAlign);
      const tail = Buffer.from(buf.subarray(whole, fill));
      // The whole blocks go direct; the tail, hashed already, through the page cache after them.
      if (whole > 0) this.#flushBounce(whole);
      else this.#inflight[this.#current] = this.#settled(this.#takeBounceHashes());
      this.#fill = 0;
      await this.#settle();
      if (tail.length > 0) await this.#buffered(tail);
    }
    await this.#settle();
  }

  /**
   * Waits for every hash and write, then closes. After a failed write the file is first cut
   * back to the first byte that may be missing, so a later write that did land cannot leave a
   * hole (the session's size must stay the offset of the next byte, and everything before it
   * must be what was sent).
   */
  async #close(): Promise<void> {
    await this.#settleAll();
    if (this.#lostFrom !== undefined) await this.fh.truncate(this.#lostFrom).catch(() => undefined);
    this.#releaseBounces();
    await this.#closeDirect();
    await this.fh.close();
  }

  async #settleAll(): Promise<void> {
    await Promise.allSettled([...this.#inflight.filter((p) => p !== null), this.#hashed]);
  }

  /** Gives the bounce buffers back; direct writes stop counting against MAX_DIRECT. */
  #releaseBounces(): void {
    if (this.#bounce.length > 0) releaseDirectSlot();
    for (const b of this.#bounce.splice(0)) releaseBounce(b);
  }

  async #closeDirect(): Promise<null> {
    for (const d of [this.#direct, this.#parkedDirect]) if (d) await closeDirectFile(d);
    this.#direct = null;
    this.#parkedDirect = null;
    return null;
  }

  /** Whether direct writes are on (switching them on past DIRECT_AFTER bytes). */
  #startDirect(): boolean {
    if (this.#direct) return true;
    if (this.#directTried || !this.io || Math.max(this.#accepted, this.expected) <= DIRECT_AFTER) return false;
    this.#directTried = true;
    // Past MAX_DIRECT uploads at once the rest write buffered: 8 MiB of bounce buffers each.
    if (!directSlotFree()) return false;
    const direct = this.#parkedDirect ?? this.io.open(this.path);
    this.#parkedDirect = null;
    if (!direct) return false;
    if (direct.memAlign > BOUNCE_ALIGN || direct.offsetAlign > BOUNCE_ALIGN) {
      void closeDirectFile(direct);
      return false;
    }
    claimDirectSlot();
    this.#direct = direct;
    this.#bounce = Array.from({ length: BOUNCES }, () => takeBounce(this.io!));
    this.#inflight = this.#bounce.map(() => null);
    return true;
  }

  /** The buffer being filled, once its previous hash and write are done. */
  async #bounceBuffer(): Promise<Buffer> {
    const pending = this.#inflight[this.#current];
    if (pending) {
      this.#inflight[this.#current] = null;
      await pending;
    }
    this.#rethrow();
    return this.#bounce[this.#current]!;
  }

  /** Starts hashing and writing the first `length` bytes of the current buffer; switches buffers. */
  #flushBounce(length: number): void {
    const data = this.#bounce[this.#current]!.subarray(0, length);
    this.#hashUpTo(length);
    const at = this.#offset;
    this.#offset += length;
    this.#fill = 0;
    this.#inflight[this.#current] = this.#settled([...this.#takeBounceHashes(), this.#writeDirect(data, at)]);
    this.#current = (this.#current + 1) % this.#bounce.length;
  }

  /** Queues the hash of the current buffer's bytes up to `end` not yet queued. */
  #hashUpTo(end: number): void {
    if (end <= this.#hashedTo) return;
    this.#bounceHashes.push(this.#hash(this.#bounce[this.#current]!.subarray(this.#hashedTo, end)));
    this.#hashedTo = end;
  }

  #takeBounceHashes(): Promise<void>[] {
    const hashes = this.#bounceHashes;
    this.#bounceHashes = [];
    this.#hashedTo = 0;
    return hashes;
  }

  /** Settles once all of `ops` have; the first failure fails the append. */
  #settled(ops: Promise<void>[]): Promise<void> {
    return Promise.all(ops).then(
      () => undefined,
      (err: unknown) => {
        this.#failure ??= err;
      },
    );
  }

  /**
   * Queues `data` for the running hash after everything before it; settles once it is hashed.
   * Never rejects (a failure is kept for `#rethrow`): a queued step may have no listener yet.
   */
  #hash(data: Buffer): Promise<void> {
    const hasher = this.hasher;
    if (!hasher) return Promise.resolve();
    this.#hashed = this.#hashed
      .then(() => hasher.update(data))
      .catch((err: unknown) => {
        this.#failure ??= err;
      });
    return this.#hashed;
  }

  async #writeDirect(data: Buffer, position: number): Promise<void> {
    const fd = this.#direct!.fd;
    let done = 0;
    try {
      while (done < data.length && !this.#refused) done += await pwrite(fd, data, done, data.length - done, position + done);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw this.#lost(position + done, err);
      // Refused after all (or a short write left the offset unaligned): the rest of this
      // append goes through the page cache, this block included.
      this.#refused = true;
    }
    await this.#bufferedAt(data.subarray(done), position + done);
  }

  /** Hashes `data` and writes it at the end of the file through the page cache, both at once. */
  async #hashAndWrite(data: Buffer): Promise<void> {
    const hashed = this.#hash(data);
    try {
      await this.#buffered(data);
    } finally {
      await hashed;
    }
    this.#rethrow();
  }

  async #buffered(data: Buffer): Promise<void> {
    const at = this.#offset;
    this.#offset += data.length;
    await this.#bufferedAt(data, at);
  }

  async #bufferedAt(data: Buffer, position: number): Promise<void> {
    let done = 0;
    try {
      while (done < data.length) done += (await this.fh.write(data, done, data.length - done, position + done)).bytesWritten;
    } catch (err) {
      throw this.#lost(position + done, err);
    }
  }

  /** Notes that bytes from `position` on may not be in the file; returns `err`. */
  #lost(position: number, err: unknown): unknown {
    this.#lostFrom = Math.min(this.#lostFrom ?? position, position);
    return err;
  }

  async #settle(): Promise<void> {
    for (let i = 0; i < this.#inflight.length; i++) {
      const p = this.#inflight[i];
      this.#inflight[i] = null;
      if (p) await p;
    }
    await this.#hashed;
    this.#rethrow();
  }

  #rethrow(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}
