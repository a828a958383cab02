import { mapLimit } from '../platform/concurrency.ts';
import type { KeyedMutex } from '../platform/locks.ts';
import type { Logger } from 'pino';
import { MANIFEST_KINDS, parseManifest } from '../oci/index.ts';
import type { Layout, OciIndexJson } from './layout/index.ts';
import type { ManifestRecord, RegistryIndex, TagRecord } from './index/index.ts';
import { tagOf } from './index-json.ts';

/**
 * Brings the LMDB index in line with the layouts on disk at startup. A repository whose
 * index.json fingerprint matches its index record is skipped, so a current index costs
 * one readdir and one stat per repository, never a walk of the blobs. A changed, new
 * (e.g. an OCI layout copied in) or vanished repository is re-read from disk.
 */
export async function reconcile(
  layout: Layout,
  index: RegistryIndex,
  log: Logger,
  /** Given when requests are already being served: each repository is fixed under its lock. */
  locks?: KeyedMutex,
): Promise<{ scanned: number; rebuilt: number; removed: number }> {
  const guarded = (repo: string, fn: () => Promise<void>) => (locks ? locks.run(repo, fn) : fn());
  const seen = new Set(await layout.listRepos());
  // Fingerprints with bounded parallelism: a thousand sequential stat round trips were
  // most of a cold start with a current index.
  const stale: string[] = [];
  await mapLimit([...seen], 32, async (repo) => {
    const fp = await layout.repos.fingerprint(repo);
    const rec = index.repo(repo);
    if (index.fresh || !rec?.fingerprint || !fp || !sameFingerprint(rec.fingerprint, fp)) stale.push(repo);
  });
  let rebuilt = 0;
  for (const repo of stale) {
    await guarded(repo, () => reindexRepo(layout, index, repo, log));
    rebuilt++;
  }
  let removed = 0;
  for (const repo of index.listRepos(undefined, undefined).items) {
    if (seen.has(repo)) continue;
    // While serving, a push may have created the repository after the walk: look again.
    await guarded(repo, async () => {
      if (locks && (await layout.repos.fingerprint(repo))) return;
      await index.write.forget(repo);
      removed++;
    });
  }
  return { scanned: seen.size, rebuilt, removed };
}

function sameFingerprint(a: { mtimeMs: number; size: number; ino: number }, b: { mtimeMs: number; size: number; ino: number }): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

/**
 * Re-reads one repository from disk: index.json, every manifest it lists and, through
 * image indexes, their children (an OCI layout written by another tool lists only the
 * top-level index). Unreadable or invalid manifests are logged and left out, not fatal.
 */
export async function reindexRepo(layout: Layout, index: RegistryIndex, repo: string, log: Logger): Promise<void> {
  const fingerprint = await layout.repos.fingerprint(repo);
  let idx: OciIndexJson | null = null;
  try {
    idx = await layout.repos.readIndex(repo);
  } catch (err) {
    log.warn({ repo, err: String(err) }, 'index.json unreadable; repository skipped');
  }
  if (!idx) {
    await index.write.forget(repo);
    return;
  }
  const manifests = new Map<string, ManifestRecord | null>();
  // Level by level (listed manifests, then children of indexes), each level read with
  // bounded parallelism: a rebuild is dominated by file reads, not by parsing.
  let level = [...new Set(idx.manifests.map((d) => d.digest))].map((digest) => ({ digest, mediaType: idx!.manifests.find((d) => d.digest === digest)!.mediaType }));
  while (level.length > 0) {
    const next: { digest: string; mediaType: string }[] = [];
    await mapLimit(level, 16, async ({ digest, mediaType }) => {
      if (manifests.has(digest)) return;
      manifests.set(digest, null);
      const rec = await loadManifest(layout, repo, digest, mediaType, log);
      manifests.set(digest, rec);
      if (rec && MANIFEST_KINDS[rec.mediaType] === 'index') for (const c of rec.children) next.push({ digest: c, mediaType: '' });
    });
    level = next.filter((n) => !manifests.has(n.digest));
  }
  const tags: [string, TagRecord][] = [];
  for (const d of idx.manifests) {
    const tag = tagOf(d);
    const rec = manifests.get(d.digest);
    if (tag !== undefined && rec) tags.push([tag, { digest: rec.digest, mediaType: rec.mediaType, size: rec.size, taggedAt: rec.pushedAt }]);
  }
  const records = [...manifests.values()].filter((m): m is ManifestRecord => m !== null);
  const blobs = await layout.listBlobDigests(repo);
  await index.write.replace(repo, { fingerprint, manifests: records, tags, blobs });
  log.debug({ repo, manifests: records.length, tags: tags.length }, 'repository indexed from disk');
}

async function loadManifest(layout: Layout, repo: string, digest: string, mediaType: string, log: Logger): Promise<ManifestRecord | null> {
  const body = await layout.blobs.read(repo, digest).catch(() => null);
  if (!body) {
    log.warn({ repo, digest }, 'manifest listed in index.json is missing on disk');
    return null;
  }
  try {
    const p = parseManifest(body, mediaType || undefined);
    if (p.digest !== digest && digest.startsWith('sha256:')) {
      log.warn({ repo, digest, actual: p.digest }, 'manifest content does not match its digest; skipped');
      return null;
    }
    const st = await layout.blobs.stat(repo, digest);
    const rec: ManifestRecord = {
      digest,
      mediaType: p.mediaType,
      size: body.length,
      body,
      // The best push time a layout can tell: when the manifest file was written.
      pushedAt: st?.mtimeMs ?? Date.now(),
      children: [...new Set([...p.blobs, ...p.manifests.map((m) => m.digest)])],
    };
    if (p.subject) rec.subject = p.subject.digest;
    if (p.artifactType) rec.artifactType = p.artifactType;
    if (p.annotations) rec.annotations = p.annotations;
    return rec;
  } catch (err) {
    log.warn({ repo, digest, err: String(err) }, 'manifest on disk is not valid; skipped');
    return null;
  }
}

