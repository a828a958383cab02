import { mkdir, readFile, readdir, rm, rmdir } from 'node:fs/promises';
import type { Descriptor } from '../../oci/index.ts';
import type { LayoutPaths } from './paths.ts';
import { type SyncPolicy, statOrNull, writeFileAtomic } from './files.ts';

/** The `index.json` of a repository (image-spec image-layout.md, image-index.md). */
export interface OciIndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** Identifies one version of a repo's index.json, to tell whether the LMDB index is current. */
export interface Fingerprint {
  mtimeMs: number;
  size: number;
  ino: number;
}

const OCI_LAYOUT = JSON.stringify({ imageLayoutVersion: '1.0.0' });

/** The annotation that names a tag in index.json (image-spec annotations.md). */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/** Repository-level files: oci-layout and index.json. */
export class RepoFiles {
  constructor(private readonly paths: LayoutPaths, private readonly policy: SyncPolicy) {}

  /** Creates the root directory (watching free space needs it to exist). */
  async ensureRoot(): Promise<void> {
    await mkdir(this.paths.root, { recursive: true });
  }

  /**
   * Makes `repo` a valid, empty OCI layout if it is not one yet. oci-layout is written
   * before index.json, and both atomically, so a crash leaves either no repository
   * (no index.json) or a valid one.
   */
  async ensure(repo: string): Promise<boolean> {
    if (await statOrNull(this.paths.indexJson(repo))) return false;
    await mkdir(this.paths.blobsDir(repo), { recursive: true });
    await writeFileAtomic(this.paths.ociLayout(repo), OCI_LAYOUT, this.paths.temp(repo), this.policy);
    await this.writeIndex(repo, { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
    return true;
  }

  /** Reads index.json; null when the directory is not a repository. */
  async readIndex(repo: string): Promise<OciIndexJson | null> {
    let text: string;
    try {
      text = await readFile(this.paths.indexJson(repo), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw err;
    }
    const doc = JSON.parse(text) as OciIndexJson;
    if (!Array.isArray(doc.manifests)) doc.manifests = [];
    return doc;
  }

  /** Replaces index.json atomically and returns the new file's fingerprint. */
  async writeIndex(repo: string, index: OciIndexJson): Promise<Fingerprint> {
    await writeFileAtomic(this.paths.indexJson(repo), JSON.stringify(index), this.paths.temp(repo), this.policy);
    const fp = await this.fingerprint(repo);
    if (!fp) throw new Error(`index.json vanished after write: ${repo}`);
    return fp;
  }

  async fingerprint(repo: string): Promise<Fingerprint | null> {
    const st = await statOrNull(this.paths.indexJson(repo));
    return st ? { mtimeMs: Number(st.mtimeMs), size: Number(st.size), ino: Number(st.ino) } : null;
  }

  /** Removes a whole repository directory (GC of an empty repo), then empty parents. */
  async remove(repo: string): Promise<void> {
    await rm(this.paths.repoDir(repo), { recursive: true, force: true });
    const parts = repo.split('/');
    for (let i = parts.length - 1; i > 0; i--) {
      const parent = parts.slice(0, i).join('/');
      try {
        if ((await readdir(this.paths.repoDir(parent))).length > 0) break;
        await rmdir(this.paths.repoDir(parent));
      } catch {
        break;
      }
    }
  }
}
