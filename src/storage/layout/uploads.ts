import { constants, createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { StreamingHasher, type Algorithm, type RunningHash } from '../../oci/index.ts';
import type { DirectIo } from '../../platform/native.ts';
import type { LayoutPaths } from './paths.ts';
import { statOrNull } from './files.ts';
import { Appender } from './appender.ts';

/**
 * Upload session files (`<repo>/.uploads/<id>`). A session is just its file: its size is
 * the offset of the next chunk, so a session survives a restart (only the running hash
 * is lost, and is rebuilt from the file when needed).
 */
export class UploadFiles {
  /** `directIo`: the addon's O_DIRECT calls for large appends (see appender.ts), null for none; asked at each append. */
  constructor(
    private readonly paths: LayoutPaths,
    private readonly directIo: () => DirectIo | null = () => null,
  ) {}

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
   * Streams `body` onto the end of the session file, feeding `hasher` as it goes (see
   * appender.ts: buffered writes, or O_DIRECT for the bulk of a large append). Each chunk is
   * taken (hashed and written, or copied) before the next one is asked for, so a body may
   * lend its chunks (both engines reuse their memory), and the HTTP engine pauses the socket
   * meanwhile, so memory stays bounded however fast the client sends. `limit` caps the bytes
   * accepted (a chunk must match its Content-Length). Every byte taken is on disk when this
   * returns or throws. Returns the bytes appended.
   */
  async append(repo: string, id: string, body: AsyncIterable<Buffer>, hasher: RunningHash | null, limit?: number): Promise<number> {
    const out = await Appender.open(this.paths.upload(repo, id), this.directIo(), hasher, limit);
    let written = 0;
    try {
      for await (const chunk of body) {
        written += chunk.length;
        if (limit !== undefined && written > limit) throw new UploadOverrun(limit);
        await out.write(chunk);
      }
    } catch (err) {
      await out.abort();
      throw err;
    }
    await out.finish();
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

/** Thrown when a chunk carries more bytes than its declared length. */
export class UploadOverrun extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds the declared ${limit} bytes`);
    this.name = 'UploadOverrun';
  }
}
