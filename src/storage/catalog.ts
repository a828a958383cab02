import type { Descriptor } from '../oci/index.ts';
import { type Page, type RegistryIndex, referrerDescriptor } from './index/index.ts';
import type { Catalog } from './types.ts';

/** Listings served from the index alone: catalog, tags, referrers. */
export class CatalogService implements Catalog {
  constructor(private readonly index: RegistryIndex) {}

  /**
   * Repositories with at least one manifest: a repository that only ever received an
   * upload session is a directory, not yet something a client can pull.
   */
  repositories(n?: number, last?: string): Page {
    const items: string[] = [];
    let cursor = last;
    const limit = n ?? Infinity;
    for (;;) {
      const page = this.index.listRepos(256, cursor);
      for (const repo of page.items) {
        if (!this.hasRepo(repo)) continue;
        if (items.length >= limit) return { items, more: true };
        items.push(repo);
      }
      if (!page.more) return { items, more: false };
      cursor = page.items[page.items.length - 1];
    }
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
    return this.index.repo(repo) !== undefined && !this.index.manifestDigests(repo).next().done;
  }
}
