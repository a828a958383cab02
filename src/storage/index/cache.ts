import type { ManifestRecord, TagRecord } from './records.ts';

interface RepoEntries {
  tags: Map<string, TagRecord>;
  manifests: Map<string, ManifestRecord>;
}

/**
 * Decoded tag and manifest records of recent reads, per repository. A manifest HEAD/GET
 * otherwise spends most of its CPU on two LMDB reads and their msgpack decode; the cache
 * turns that into two Map lookups. It is safe because this process is the index's only
 * writer: every write drops the repository's entries before its transaction and again
 * after the commit, so a read that refilled the cache from the old snapshot in between
 * is discarded too. Bounded: past the budget the whole cache is dropped and refills.
 */
export class RecordCache {
  private repos = new Map<string, RepoEntries>();
  private entries = 0;
  private bytes = 0;

  constructor(
    private readonly maxEntries = 4096,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  tag(repo: string, tag: string): TagRecord | undefined {
    return this.repos.get(repo)?.tags.get(tag);
  }

  manifest(repo: string, digest: string): ManifestRecord | undefined {
    return this.repos.get(repo)?.manifests.get(digest);
  }

  putTag(repo: string, tag: string, rec: TagRecord): void {
    this.room(64);
    this.of(repo).tags.set(tag, Object.freeze(rec));
  }

  putManifest(repo: string, rec: ManifestRecord): void {
    this.room(rec.size + 256);
    Object.freeze(rec.children);
    this.of(repo).manifests.set(rec.digest, Object.freeze(rec));
  }

  dropRepo(repo: string): void {
    const e = this.repos.get(repo);
    if (!e) return;
    this.entries -= e.tags.size + e.manifests.size;
    for (const m of e.manifests.values()) this.bytes -= m.size + 256;
    this.bytes -= e.tags.size * 64;
    this.repos.delete(repo);
  }

  clear(): void {
    this.repos.clear();
    this.entries = 0;
    this.bytes = 0;
  }

  private room(cost: number): void {
    if (this.entries + 1 > this.maxEntries || this.bytes + cost > this.maxBytes) this.clear();
    this.entries++;
    this.bytes += cost;
  }

  private of(repo: string): RepoEntries {
    let e = this.repos.get(repo);
    if (!e) this.repos.set(repo, (e = { tags: new Map(), manifests: new Map() }));
    return e;
  }
}
