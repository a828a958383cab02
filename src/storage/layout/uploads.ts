import { constants, createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { StreamingHasher, type Algorithm, type RunningHash } from '../../oci/index.ts';
import type { DirectIo } from '../../platform/native.ts';
import type { LayoutPaths } from './paths.ts';
import { statOrNull } from './files.ts';
import { Appender, closeParked, type ParkedFile } from './appender.ts';

/**
 * How long a session file stays open after an append, for the client's next chunk. A chunked
 * push sends its next PATCH within milliseconds; reopening cost each 8 MiB PATCH two thread-pool
 * round trips to open and stat, an O_DIRECT open and two closes (measured 0.3-3 ms of the
 * 8-12 ms a PATCH took on node:http).
 */
export const PARK_MS = 2000;
/** Session files kept open at once; the oldest is closed past this. */
const MAX_PARKED = 8;

interface Parked {
  file: ParkedFile;
  timer: NodeJS.Timeout;
  /** size() found the path still naming this file at this size since it was parked. */
  checked: boolean;
}

/**
 * Upload session files (`<repo>/.uploads/<id>`). A session is just its file: its size is
 * the offset of the next chunk, so a session survives a restart (only the running hash
 * is lost, and is rebuilt from the file when needed).
 */
export class UploadFiles {
  /** Session files left open after an append (see PARK_MS), by path. */
  readonly #parked = new Map<string, Parked>();

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
    const path = this.paths.upload(repo, id);
    const st = await statOrNull(path);
    const size = st && st.isFile() ? Number(st.size) : null;
    const parked = this.#parked.get(path);
    if (parked) {
      // The file on disk is the truth: an open file that no longer matches it is let go.
      if (st && size === parked.file.size && Number(st.ino) === parked.file.ino) parked.checked = true;
      else await this.#unpark(path);
    }
    return size;
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
    const path = this.paths.upload(repo, id);
    const out = await Appender.open(path, this.directIo(), hasher, limit, await this.#takeParked(path));
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
    this.#park(path, await out.finish(true));
    return written;
  }

  /** Closes the session's file if an append left it open: before it is moved into place. */
  async release(repo: string, id: string): Promise<void> {
    await this.#unpark(this.paths.upload(repo, id));
  }

  /** The file an earlier append left open, if it still is what `path` names (checked by size() or here). */
  async #takeParked(path: string): Promise<ParkedFile | undefined> {
    const p = this.#parked.get(path);
    if (!p) return undefined;
    this.#parked.delete(path);
    clearTimeout(p.timer);
    if (!p.checked) {
      const st = await statOrNull(path);
      if (!st || Number(st.size) !== p.file.size || Number(st.ino) !== p.file.ino) {
        await closeParked(p.file);
        return undefined;
      }
    }
    return p.file;
  }

  #park(path: string, file: ParkedFile): void {
    if (this.#parked.size >= MAX_PARKED) {
      const oldest = this.#parked.keys().next().value!;
      void this.#unpark(oldest);
    }
    const timer = setTimeout(() => void this.#unpark(path), PARK_MS);
    timer.unref();
    this.#parked.set(path, { file, timer, checked: false });
  }

  async #unpark(path: string): Promise<void> {
    const p = this.#parked.get(path);
    if (!p) return;
    this.#parked.delete(path);
    clearTimeout(p.timer);
    await closeParked(p.file);
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
    await this.release(repo, id);
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
