import { constants } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm, utimes } from 'node:fs/promises';
import type { LayoutPaths } from './paths.ts';
import { FileRange, type FileSender, type SendResult } from './file-range.ts';
import { type SyncPolicy, fsyncFile, linkAtomic, renameDurable, statOrNull, writeFileAtomic } from './files.ts';

/** A readable byte stream of (part of) a blob with its length. */
export interface BlobStream {
  stream: AsyncIterable<Buffer> & {
    destroy(err?: Error): void;
    readInto(target: Buffer): Promise<number>;
    readonly position: number;
    skip(n: number): void;
    sendWith(send: FileSender, max: number): Promise<SendResult>;
  };
  length: number;
  /** Size of the whole blob (for Content-Range). */
  size: number;
}

/**
 * Chunk size for consumers that iterate (and so get a new buffer per chunk): large, for
 * fewer syscalls and fewer trips through the HTTP engine per MiB. The uWS engine reads
 * into its own pooled buffers instead (FileRange.readInto).
 */
const READ_CHUNK = 512 * 1024;

/** Blob files of repositories: stat, stream, write, link, delete. */
export class BlobFiles {
  constructor(private readonly paths: LayoutPaths, private readonly policy: SyncPolicy) {}

  /** Size of a blob in a repository, or null if it is not there. */
  async stat(repo: string, digest: string): Promise<{ size: number; mtimeMs: number; ino: number; nlink: number } | null> {
    const st = await statOrNull(this.paths.blob(repo, digest));
    return st && st.isFile() ? { size: Number(st.size), mtimeMs: Number(st.mtimeMs), ino: Number(st.ino), nlink: Number(st.nlink) } : null;
  }

  /**
   * Opens a blob for streaming. The descriptor is opened before returning, so a delete
   * racing the download cannot cut it short (an unlinked file stays readable).
   * `range` is inclusive; null if the blob is missing.
   */
  async open(repo: string, digest: string, range?: { start: number; end: number }): Promise<BlobStream | null> {
    let fh;
    try {
      fh = await open(this.paths.blob(repo, digest), constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let size: number;
    try {
      size = Number((await fh.stat()).size);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    const start = range?.start ?? 0;
    const end = range ? Math.min(range.end, size - 1) : size - 1;
    const length = Math.max(0, end - start + 1);
    // The range owns the handle from here: it closes it on end, error or destroy (a
    // client hanging up), exactly once; an empty range closes it at once.
    const stream = new FileRange(fh, start, length, READ_CHUNK);
    if (length === 0) stream.destroy();
    return { stream, length, size };
  }

  /** Reads a whole (small) blob: manifests only. */
  async read(repo: string, digest: string): Promise<Buffer | null> {
    try {
      return await readFile(this.paths.blob(repo, digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Writes a small blob whose digest the caller computed over `data`. */
  async write(repo: string, digest: string, data: Uint8Array): Promise<void> {
    await writeFileAtomic(this.paths.blob(repo, digest), data, this.paths.temp(repo), this.policy);
  }

  /**
   * Moves a verified file (an upload) into place as a blob. Content-addressed, so
   * replacing an existing identical blob is harmless.
   */
  async commitFile(repo: string, digest: string, file: string): Promise<void> {
    if (this.policy.fsync) await fsyncFile(file);
    await renameDurable(file, this.paths.blob(repo, digest), this.policy);
  }

  /**
   * Makes `repo` hold the blob `fromRepo` holds: a hard link (`link`, dedupe), falling
   * back to a copy where links are impossible, or a copy (`copy`, dedupe off). Bumps
   * mtime so the GC age check sees a fresh reference. Returns false if the source is gone.
   */
  async link(repo: string, digest: string, fromRepo: string, mode: 'link' | 'copy'): Promise<boolean> {
    const src = this.paths.blob(fromRepo, digest);
    const dest = this.paths.blob(repo, digest);
    if (src === dest) return (await statOrNull(src)) !== null;
    if (mode === 'link') {
      try {
        if (await linkAtomic(src, dest, this.paths.temp(repo), this.policy)) {
          const now = new Date();
          await utimes(dest, now, now).catch(() => undefined);
          return true;
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    }
    const tmp = this.paths.temp(repo);
    try {
      await copyFile(src, tmp);
    } catch (err) {
      await rm(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await this.commitFile(repo, digest, tmp);
    return true;
  }

  /**
   * Gives `repo` its own copy of a blob that is hard-linked elsewhere (dedupe turned
   * off): copy to a temp file, then rename over the link, so readers never see a gap.
   */
  async unshare(repo: string, digest: string): Promise<void> {
    const tmp = this.paths.temp(repo);
    try {
      await copyFile(this.paths.blob(repo, digest), tmp);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await this.commitFile(repo, digest, tmp);
  }

  /** Removes a blob file; missing is fine (idempotent delete). */
  async remove(repo: string, digest: string): Promise<void> {
    await rm(this.paths.blob(repo, digest), { force: true });
  }

  /**
   * Moves a blob out of `blobs/` into a temp file of the repository (one atomic rename),
   * for garbage collection to decide on before anything is lost: `restore` puts it back,
   * `remove` of the returned path drops it. null when the blob is not there. A crash in
   * between leaves an unreferenced blob in `.uploads/`, swept with stale temp files.
   */
  async retire(repo: string, digest: string): Promise<string | null> {
    const from = this.paths.blob(repo, digest);
    const to = this.paths.temp(repo);
    try {
      await rename(from, to);
      return to;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // ENOENT: the blob is gone, or the repository has no .uploads yet (look, then retry once).
    if (!(await statOrNull(from))) return null;
    await mkdir(this.paths.uploadsDir(repo), { recursive: true });
    await rename(from, to);
    return to;
  }

  /** Puts a retired blob back (the caller holds the repository lock, so nothing took its place). */
  async restore(repo: string, digest: string, retired: string): Promise<void> {
    await rename(retired, this.paths.blob(repo, digest));
  }

  /** Drops a retired blob for good. */
  async purge(retired: string): Promise<void> {
    await rm(retired, { force: true });
  }
}
