import type { Descriptor } from '../oci/index.ts';
import { type Page, type RegistryIndex, referrerDescriptor } from './index/index.ts';
import type { Catalog } from './types.ts';

/** Listings served from the index alone: catalog, tags, referrers. */
export class CatalogService implements Catalog {
  constructor(private readonly index: RegistryIndex) {}

  /** Every repository, as zot lists them: once created, until GC removes it empty. */
  repositories(n?: number, last?: string): Page {
    return this.index.listRepos(n, last);
  }

  tags(repo: string, n?: number, last?: string): Page {
    return this.index.listTags(repo, n, last);
  }

  /** distribution-spec "Listing Referrers": descriptors of manifests whose subject is `digest`. */
  referrers(repo: string, digest: string, artifactType?: string): Descriptor[] {
    const out: Descriptor[] = [];
    for (const m of this.index.referrers(repo, digest)) {
      if (artifactType !== undefined && m.artifactType !== artifactType) continue;
      out.push(referrerDescriptor(m));
    }
    return out;
  }

  hasRepo(repo: string): boolean {
    return this.index.repo(repo) !== undefined;
  }
}
