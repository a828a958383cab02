import { constants, createReadStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { StreamingHasher, type Algorithm, type RunningHash } from '../../oci/index.ts';
import type { LayoutPaths } from './paths.ts';
import { statOrNull } from './files.ts';

/**
 * Upload session files (`<repo>/.uploads/<id>`). A session is just its file: its size is
 * the offset of the next chunk, so a session survives a restart (only the running hash
 * is lost, and is rebuilt from the file when needed).
 */
export class UploadFiles {
  constructor(private readonly paths: LayoutPaths) {}

  path(repo: string, id: string): string {
    return this.paths.upload(repo, id);
  }

  async create(repo: string, id: string): Promise<void> {
    await mkdir(this.paths.uploadsDir(repo), { recursive: true });
    const fh = await open(this.paths.upload(repo, id), constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
    await fh.close();
  }

  /** Bytes received so far, or null for an unknown session. */
  async size(repo: string, id: string): Promise<number | null> {
    const st = await statOrNull(this.paths.upload(repo, id));
    return st && st.isFile() ? Number(st.size) : null;
  }

  /** Last modification time, for sweeping stale sessions. */
  async mtime(repo: string, id: string): Promise<number | null> {
    const st = await statOrNull(this.paths.upload(repo, id));
    return st ? Number(st.mtimeMs) : null;
  }

  /**
   * Streams `body` onto the end of the session file, feeding `hasher` as it goes. Each
   * chunk is written (on libuv's pool, while it is hashed here or on the hash thread) and
   * hashed before the next one is asked for, so a body may lend its chunks (both engines
   * reuse their memory), and the HTTP engine pauses the socket while we write, so memory
   * stays bounded however fast the client sends. `limit` caps the bytes accepted (a chunk
   * must match its Content-Length). Returns the bytes appended.
   */
  async append(repo: string, id: string, body: AsyncIterable<Buffer>, hasher: RunningHash | null, limit?: number): Promise<number> {
    const fh = await open(this.paths.upload(repo, id), 'a');
    let written = 0;
    try {
      for await (const chunk of body) {
        written += chunk.length;
        if (limit !== undefined && written > limit) throw new UploadOverrun(limit);
        const write = writeAll(fh, chunk);
        let hashed: void | Promise<void>;
        try {
          hashed = hasher?.update(chunk);
        } finally {
          await write;
        }
        await hashed;
      }
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    await fh.close();
    return written;
  }

  /** Recomputes the running hash from the file (after a restart or a failed append). */
  async rehash(repo: string, id: string, algorithm: Algorithm): Promise<StreamingHasher> {
    const hasher = new StreamingHasher(algorithm);
    for await (const chunk of createReadStream(this.paths.upload(repo, id), { highWaterMark: 1024 * 1024 })) {
      hasher.update(chunk as Buffer);
    }
    return hasher;
  }

  async remove(repo: string, id: string): Promise<void> {
    await rm(this.paths.upload(repo, id), { force: true });
  }
}

/** Writes all of `chunk` at the end of an O_APPEND file (a write may take only part). */
async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.length - done);
    done += bytesWritten;
  }
}

/** Thrown when a chunk carries more bytes than its declared length. */
export class UploadOverrun extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds the declared ${limit} bytes`);
    this.name = 'UploadOverrun';
  }
}
