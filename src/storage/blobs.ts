import { RegistryError } from '../errors/index.ts';
import { parseDigest } from '../oci/index.ts';
import type { KeyedMutex } from '../platform/locks.ts';
import type { Layout } from './layout/index.ts';
import type { RegistryIndex } from './index/index.ts';
import type { BlobRead, BlobStore } from './types.ts';
import type { RepoGuard } from './repos.ts';
import type { TouchLog } from './touches.ts';

/**
 * Blobs. Presence is the file in the repository's layout (the truth), so a blob is
 * never served from one repository's index entry while missing on disk.
 */
export class BlobService implements BlobStore {
  constructor(
    private readonly layout: Layout,
    private readonly index: RegistryIndex,
    private readonly locks: KeyedMutex,
    private readonly repos: RepoGuard,
    private readonly dedupe: boolean,
    private readonly touches: TouchLog,
  ) {}

  async stat(repo: string, digest: string): Promise<{ size: number } | null> {
    parseDigest(digest);
    // Touch first, then look: a sweep that moves the file aside after this touch sees it
    // and puts the file back, and one that moved it before makes this answer 404 (the
    // client uploads again). Either way a 200 here means the blob stays (gc/sweep.ts).
    this.touches.touch(repo, digest);
    const st = await this.layout.blobs.stat(repo, digest);
    if (!st) return null;
    return { size: st.size };
  }

  async open(repo: string, digest: string, range?: { start: number; end: number }): Promise<BlobRead | null> {
    parseDigest(digest);
    return this.layout.blobs.open(repo, digest, range);
  }

  /**
   * Deletes a blob from one repository. Refused (405, zot's DENIED) while a manifest of
   * the repository still references it, or when it is itself a live manifest.
   */
  async delete(repo: string, digest: string): Promise<void> {
    parseDigest(digest);
    await this.locks.run(repo, async () => {
      if (!(await this.layout.blobs.stat(repo, digest))) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
      const users = this.index.parents(repo, digest).filter((p) => this.index.manifest(repo, p));
      if (users.length > 0 || this.index.manifest(repo, digest)) {
        throw new RegistryError('DENIED', 'blob is referenced by a manifest in this repository', { status: 405, detail: { referencedBy: users.slice(0, 20) } });
      }
      await this.layout.blobs.remove(repo, digest);
      await this.index.write.removeHolder(digest, repo);
    });
  }

  /**
   * Cross-repository mount: a hard link when dedupe is on (both repositories stay
   * complete OCI layouts sharing one inode), otherwise a copy.
   */
  async mount(repo: string, digest: string, from: string): Promise<boolean> {
    parseDigest(digest);
    if (!(await this.layout.blobs.stat(from, digest))) return false;
    return this.locks.run(repo, async () => {
      await this.repos.ensure(repo);
      this.touches.touch(repo, digest);
      if (await this.layout.blobs.stat(repo, digest)) return true;
      const ok = await this.layout.blobs.link(repo, digest, from, this.dedupe ? 'link' : 'copy');
      if (ok) await this.index.write.addHolder(digest, repo);
      return ok;
    });
  }
}
