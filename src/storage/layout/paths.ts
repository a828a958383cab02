import { join, resolve, sep } from 'node:path';
import { parseDigest } from '../../oci/index.ts';

/**
 * The on-disk tree, documented once:
 *
 *   <root>/
 *     _skiff/index.lmdb        derived LMDB index (rebuildable; `_` cannot start a repo name)
 *     <repo path…>/            nested names are nested directories (a/b/c)
 *       oci-layout             {"imageLayoutVersion":"1.0.0"}
 *       index.json             one descriptor per tag (org.opencontainers.image.ref.name),
 *                              plus untagged manifests without the annotation
 *       blobs/<alg>/<hex>      manifests, configs and layers
 *       .uploads/<uuid>        upload sessions in progress
 *       .uploads/.tmp-<uuid>   temp files of atomic writes (same filesystem as blobs, so
 *                              rename is atomic; stale ones are swept with stale uploads)
 *
 * This is zot's layout, so a zot root directory is served as it is.
 */
export class LayoutPaths {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Directory of a repository. Names are validated upstream; this re-checks containment. */
  repoDir(repo: string): string {
    const dir = join(this.root, ...repo.split('/'));
    if (!dir.startsWith(this.root + sep)) throw new Error(`repository path escapes the root: ${repo}`);
    return dir;
  }

  indexJson(repo: string): string {
    return join(this.repoDir(repo), 'index.json');
  }

  ociLayout(repo: string): string {
    return join(this.repoDir(repo), 'oci-layout');
  }

  blobsDir(repo: string): string {
    return join(this.repoDir(repo), 'blobs');
  }

  blob(repo: string, digest: string): string {
    const d = parseDigest(digest);
    return join(this.repoDir(repo), 'blobs', d.algorithm, d.hex);
  }

  uploadsDir(repo: string): string {
    return join(this.repoDir(repo), '.uploads');
  }

  upload(repo: string, id: string): string {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new Error('invalid upload id');
    return join(this.uploadsDir(repo), id);
  }

  /** A fresh temp path inside the repo, on the same filesystem as its blobs. */
  temp(repo: string): string {
    return join(this.uploadsDir(repo), `.tmp-${crypto.randomUUID()}`);
  }

  /** Where derived state lives (LMDB index); not a repository. */
  stateDir(): string {
    return join(this.root, '_skiff');
  }
}
