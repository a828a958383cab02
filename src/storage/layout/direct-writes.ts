/**
 * What direct (O_DIRECT) appends share: the aligned bounce buffers, kept idle between large
 * uploads; the limit on appends writing direct at once; the descriptors an append leaves
 * parked for the next one; and the raw pwrite they use (appender.ts says why direct).
 */
import { close as closeFd, write as writeFd } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { IdlePool } from '../../platform/idle-pool.ts';
import type { DirectFile, DirectIo } from '../../platform/native.ts';

/**
 * An upload file left open by `finish(true)` for the next append to it: its descriptors, its
 * size then (the offset of the next byte) and its inode, by which the caller checks that the
 * path still names it. Nothing is held in memory for it: every byte taken was written.
 */
export interface ParkedFile {
  readonly fh: FileHandle;
  readonly direct: DirectFile | null;
  readonly size: number;
  readonly ino: number;
}

/** Closes a parked file's descriptors. */
export async function closeParked(p: ParkedFile): Promise<void> {
  if (p.direct) await closeDirectFile(p.direct);
  await p.fh.close().catch(() => undefined);
}

export function closeDirectFile(d: DirectFile): Promise<void> {
  return new Promise<void>((resolve) => closeFd(d.fd, () => resolve()));
}

/** Bytes of an append written buffered before direct writes are tried. */
export const DIRECT_AFTER = 1024 * 1024;
/**
 * Bounce buffers per append, and their size: one fills while the other is hashed and written.
 * Measured on 256 MiB pushes (MiB/s on node:http / uWS): 2 x 1 MiB 633 / 846, 4 x 1 MiB
 * 669 / 861, 3 x 2 MiB 708-766 / 936-954, 2 x 4 MiB 777 / 1,050, 3 x 4 MiB 799 / 1,007.
 * Fewer, larger writes cost fewer pool round trips; 8 MiB is held only while a large
 * upload runs.
 */
export const BOUNCES = 2;
const BOUNCE = 4 * 1024 * 1024;
/**
 * Uploads written direct at once; more are written buffered. Bounds the bounce buffers to
 * 32 MiB however many clients push (eight 100 MB pushes at once peaked at 185 MiB of RSS on
 * node:http without it).
 */
export const MAX_DIRECT = 2;
let directNow = 0;

/** Whether another append may start writing direct (see MAX_DIRECT). */
export const directSlotFree = (): boolean => directNow < MAX_DIRECT;
/** An append starts writing direct; `releaseDirectSlot` when its bounce buffers go back. */
export function claimDirectSlot(): void {
  directNow++;
}
export function releaseDirectSlot(): void {
  directNow--;
}

/** Bounce buffers are aligned to this; a file system that asks for more is written buffered. */
export const BOUNCE_ALIGN = 4096;
/** Idle bounce buffers kept for the next large uploads (8 MiB), for 15 s. */
const bounces = new IdlePool(2, 15_000);

export function takeBounce(io: DirectIo): Buffer {
  return bounces.take(() => io.alignedBuffer(BOUNCE, BOUNCE_ALIGN));
}

export function releaseBounce(buf: Buffer): void {
  bounces.release(buf);
}

export function pwrite(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => writeFd(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}
