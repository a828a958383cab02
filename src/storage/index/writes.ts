import type { RecordCache } from './cache.ts';
import type { Tables } from './db.ts';
import { SEP, key, prefixRange, tail, type ManifestRecord, type RepoRecord, type TagRecord } from './records.ts';
import type { Fingerprint } from '../layout/index.ts';

/** One repository's change, applied to the index in a single transaction. */
export interface RepoChange {
  fingerprint: Fingerprint | null;
  putManifests?: ManifestRecord[];
  deleteManifests?: string[];
  putTags?: [string, TagRecord][];
  deleteTags?: string[];
}

/** Everything the index holds for one repository, as rebuilt from its layout. */
export interface RepoSnapshot {
  fingerprint: Fingerprint | null;
  manifests: ManifestRecord[];
  tags: [string, TagRecord][];
  blobs: string[];
}

/**
 * Write side: each call is one LMDB transaction, awaited until committed. Calls that
 * change tags or manifests go through `dropping`, which keeps the read cache honest.
 */
export class IndexWriter {
  constructor(
    private readonly t: Tables,
    private readonly cache: RecordCache,
  ) {}

  /** Runs a write of `repo` (all repositories when undefined) with the read cache dropped before and after the commit. */
  private async dropping(repo: string | undefined, write: () => Promise<unknown>): Promise<void> {
    const drop = () => (repo === undefined ? this.cache.clear() : this.cache.dropRepo(repo));
    drop();
    try {
      await write();
    } finally {
      drop();
    }
  }

  async apply(repo: string, change: RepoChange): Promise<void> {
    const t = this.t;
    await this.dropping(repo, () => t.root.transaction(() => {
      const existing = t.repos.get(key(repo));
      const rec: RepoRecord = { fingerprint: change.fingerprint, createdAt: existing?.createdAt ?? Date.now() };
      t.repos.put(key(repo), rec);
      for (const d of change.deleteManifests ?? []) this.dropManifest(repo, d);
      for (const m of change.putManifests ?? []) this.putManifest(repo, m);
      for (const tag of change.deleteTags ?? []) t.tags.remove(key(repo, tag));
      for (const [tag, r] of change.putTags ?? []) t.tags.put(key(repo, tag), r);
    }));
  }

  /** Replaces every row of a repository (index rebuild from disk). */
  async replace(repo: string, snap: RepoSnapshot): Promise<void> {
    const t = this.t;
    await this.dropping(repo, () => t.root.transaction(() => {
      const createdAt = t.repos.get(key(repo))?.createdAt ?? Date.now();
      this.clear(repo);
      t.repos.put(key(repo), { fingerprint: snap.fingerprint, createdAt });
      for (const m of snap.manifests) this.putManifest(repo, m);
      for (const [tag, r] of snap.tags) t.tags.put(key(repo, tag), r);
      for (const b of snap.blobs) t.holders.put(key(b, repo), true);
    }));
  }

  /** Forgets a repository entirely (its directory is gone). */
  async forget(repo: string): Promise<void> {
    await this.dropping(repo, () => this.t.root.transaction(() => {
      this.clear(repo);
      this.t.repos.remove(key(repo));
      // Holder rows are keyed by digest first, so finding this repo's means one scan;
      // rare (repository removal), unlike rebuilds, where stale holder rows are harmless:
      // a link from a vanished file fails and the blob is stored as a fresh copy.
      for (const k of this.t.holders.getKeys({})) if (tail(k, 0).endsWith(`${SEP}${repo}`)) this.t.holders.remove(k);
    }));
  }

  async addHolder(digest: string, repo: string): Promise<void> {
    await this.t.holders.put(key(digest, repo), true);
  }

  async removeHolder(digest: string, repo: string): Promise<void> {
    await this.t.holders.remove(key(digest, repo));
  }

  async removeHolders(digests: string[], repo: string): Promise<void> {
    await this.t.root.transaction(() => {
      for (const d of digests) this.t.holders.remove(key(d, repo));
    });
  }

  /** Adds pull counts gathered in memory (batched so pulls never wait on a write). */
  async addPulls(batch: Map<string, { count: number; lastPull: number; key: Buffer }>): Promise<void> {
    const t = this.t;
    await t.root.transaction(() => {
      for (const v of batch.values()) {
        const k = v.key;
        const old = t.stats.get(k);
        t.stats.put(k, { count: (old?.count ?? 0) + v.count, lastPull: Math.max(old?.lastPull ?? 0, v.lastPull) });
      }
    });
  }

  private putManifest(repo: string, m: ManifestRecord): void {
    const t = this.t;
    const old = t.manifests.get(key(repo, m.digest));
    if (old) this.dropEdges(repo, old);
    t.manifests.put(key(repo, m.digest), m);
    for (const c of m.children) t.refs.put(key(repo, c, m.digest), true);
    if (m.subject) t.referrers.put(key(repo, m.subject, m.digest), true);
  }

  private dropManifest(repo: string, digest: string): void {
    const t = this.t;
    const old = t.manifests.get(key(repo, digest));
    if (!old) return;
    this.dropEdges(repo, old);
    t.manifests.remove(key(repo, digest));
    t.stats.remove(key(repo, digest));
  }

  private dropEdges(repo: string, m: ManifestRecord): void {
    for (const c of m.children) this.t.refs.remove(key(repo, c, m.digest));
    if (m.subject) this.t.referrers.remove(key(repo, m.subject, m.digest));
  }

  private clear(repo: string): void {
    const t = this.t;
    for (const db of [t.tags, t.manifests, t.refs, t.referrers, t.stats]) {
      const r = prefixRange(repo);
      for (const k of db.getKeys({ start: r.start, end: r.end })) db.remove(k);
    }
  }
}
