import { constants } from 'node:fs';
import { link, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Crash-safe file primitives. Every write lands in a temp file first and is renamed
 * into place, so a reader (or a crash) sees the old file or the new one, never half.
 * With `fsync` on (zot's `storage.commit`), data and the directory entry are flushed
 * before the call returns, so a power cut cannot lose an acknowledged write.
 */
export interface SyncPolicy {
  fsync: boolean;
}

/** Writes `data` to `tmp`, then renames it onto `dest`. */
export async function writeFileAtomic(dest: string, data: Uint8Array | string, tmp: string, policy: SyncPolicy): Promise<void> {
  await mkdir(dirname(tmp), { recursive: true });
  const fh = await open(tmp, constants.O_CREAT | constants.O_TRUNC | constants.O_WRONLY, 0o644);
  try {
    await fh.writeFile(data);
    if (policy.fsync) await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await renameDurable(tmp, dest, policy);
}

/** Renames and, under the fsync policy, flushes the destination directory entry. */
export async function renameDurable(from: string, to: string, policy: SyncPolicy): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  try {
    await rename(from, to);
  } catch (err) {
    await rm(from, { force: true });
    throw err;
  }
  if (policy.fsync) await fsyncDir(dirname(to));
}

/** Flushes a file's data to disk. */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Flushes a directory, making a rename or link in it durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Hard-links `from` to `to` via a temp name and a rename, so `to` appears atomically
 * even if it already exists. Returns false when linking is impossible (another device).
 */
export async function linkAtomic(from: string, to: string, tmp: string, policy: SyncPolicy): Promise<boolean> {
  await mkdir(dirname(tmp), { recursive: true });
  try {
    await link(from, tmp);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK') return false;
    throw err;
  }
  await renameDurable(tmp, to, policy);
  return true;
}

/** `stat` that answers null for a missing path instead of throwing. */
export async function statOrNull(path: string): Promise<Awaited<ReturnType<typeof stat>> | null> {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
}
