import type { Tables } from './db.ts';
import type { RecordCache } from './cache.ts';
import { key, prefixRange, tail, type ManifestRecord, type PullStats, type RepoRecord, type TagRecord } from './records.ts';

/** A page of names, and whether more follow (for the `Link` header). */
export interface Page {
  items: string[];
  more: boolean;
}

/**
 * Read side of the index. Everything is a synchronous LMDB read from the memory map:
 * no I/O wait, no allocation beyond the decoded value, which is what makes manifest
 * HEAD/GET cheap enough to serve tens of thousands per second on a small box.
 */
export class IndexReader {
  constructor(
    protected readonly t: Tables,
    protected readonly cache: RecordCache,
  ) {}

  repo(repo: string): RepoRecord | undefined {
    return this.t.repos.get(key(repo));
  }

  /** Repositories in lexical order after `last` (distribution-spec catalog pagination). */
  listRepos(n: number | undefined, last: string | undefined): Page {
    const items: string[] = [];
    const limit = n ?? Infinity;
    for (const raw of this.t.repos.getKeys(last !== undefined ? { start: key(last) } : {})) {
      const k = tail(raw, 0);
      if (last !== undefined && k <= last) continue;
      if (items.length >= limit) return { items, more: true };
      items.push(k);
    }
    return { items, more: false };
  }

  /** A tag's record (frozen: it may be shared with the next reader). */
  tag(repo: string, tag: string): TagRecord | undefined {
    const hit = this.cache.tag(repo, tag);
    if (hit) return hit;
    const rec = this.t.tags.get(key(repo, tag));
    if (rec) this.cache.putTag(repo, tag, rec);
    return rec;
  }

  /** Tags of a repository in lexical order after `last`. */
  listTags(repo: string, n: number | undefined, last: string | undefined): Page {
    const r = prefixRange(repo);
    const start = last !== undefined ? key(repo, last) : r.start;
    const items: string[] = [];
    const limit = n ?? Infinity;
    for (const k of this.t.tags.getKeys({ start, end: r.end })) {
      const tag = tail(k, r.skip);
      if (last !== undefined && tag <= last) continue;
      if (items.length >= limit) return { items, more: true };
      items.push(tag);
    }
    return { items, more: false };
  }

  /** All tags of a repository with their records. */
  *tagEntries(repo: string): Generator<[string, TagRecord]> {
    const r = prefixRange(repo);
    for (const { key: k, value } of this.t.tags.getRange({ start: r.start, end: r.end })) yield [tail(k, r.skip), value];
  }

  /** A manifest's record (frozen: it may be shared with the next reader). */
  manifest(repo: string, digest: string): ManifestRecord | undefined {
    const hit = this.cache.manifest(repo, digest);
    if (hit) return hit;
    const rec = this.t.manifests.get(key(repo, digest));
    if (rec) this.cache.putManifest(repo, rec);
    return rec;
  }

  /** Digests of every manifest the repository knows. */
  *manifestDigests(repo: string): Generator<string> {
    const r = prefixRange(repo);
    for (const k of this.t.manifests.getKeys({ start: r.start, end: r.end })) yield tail(k, r.skip);
  }

  /** Manifests of `repo` that reference `child` (a blob or a manifest). */
  parents(repo: string, child: string): string[] {
    const r = prefixRange(repo, child);
    return [...this.t.refs.getKeys({ start: r.start, end: r.end })].map((k) => tail(k, r.skip));
  }

  /** Manifests of `repo` whose subject is `subject`. */
  referrers(repo: string, subject: string): ManifestRecord[] {
    const r = prefixRange(repo, subject);
    const out: ManifestRecord[] = [];
    for (const k of this.t.referrers.getKeys({ start: r.start, end: r.end })) {
      const m = this.manifest(repo, tail(k, r.skip));
      if (m) out.push(m);
    }
    return out;
  }

  /** Repositories that hold a blob (dedupe source, mount). */
  holders(digest: string): string[] {
    const r = prefixRange(digest);
    return [...this.t.holders.getKeys({ start: r.start, end: r.end })].map((k) => tail(k, r.skip));
  }

  pullStats(repo: string, digest: string): PullStats | undefined {
    return this.t.stats.get(key(repo, digest));
  }
}
