import { LayoutPaths } from './paths.ts';
import { BlobFiles } from './blobs.ts';
import { UploadFiles } from './uploads.ts';
import { RepoFiles } from './repo.ts';
import type { SyncPolicy } from './files.ts';
import type { DirectIo } from '../../platform/native.ts';
import { listBlobDigests, listBlobFiles, listRepoDirs, listUploads } from './scan.ts';

export { LayoutPaths } from './paths.ts';
export type { BlobStream } from './blobs.ts';
export { UploadOverrun } from './uploads.ts';
export { REF_NAME, type OciIndexJson, type Fingerprint } from './repo.ts';
export type { BlobEntry } from './scan.ts';

/** The on-disk OCI layouts under one root: the only filesystem access of storage. */
export class Layout {
  readonly paths: LayoutPaths;
  readonly blobs: BlobFiles;
  readonly uploads: UploadFiles;
  readonly repos: RepoFiles;

  /** `directIo`: O_DIRECT writes for large uploads (the addon's; null writes through the page cache), asked at each append. */
  constructor(root: string, policy: SyncPolicy, directIo: () => DirectIo | null = () => null) {
    this.paths = new LayoutPaths(root);
    this.blobs = new BlobFiles(this.paths, policy);
    this.uploads = new UploadFiles(this.paths, directIo);
    this.repos = new RepoFiles(this.paths, policy);
  }

  /** Every repository on disk, sorted. */
  listRepos(): Promise<string[]> {
    return listRepoDirs(this.paths);
  }

  listBlobs(repo: string) {
    return listBlobFiles(this.paths, repo);
  }

  listBlobDigests(repo: string): Promise<string[]> {
    return listBlobDigests(this.paths, repo);
  }

  listUploads(repo: string) {
    return listUploads(this.paths, repo);
  }
}
