import type { Logger } from 'pino';
import type { RetentionConfig } from '../../config/types.ts';
import type { StorageInternals } from '../create.ts';
import { mapLimit } from '../../platform/concurrency.ts';
import { tagOf } from '../index-json.ts';
import { reindexRepo } from '../reconcile.ts';
import { planManifests } from './plan.ts';

/** File operations in flight per repository sweep (libuv's thread pool has 4 by default). */
const GC_FILE_CONCURRENCY = 8;

/** Settings of one garbage-collection run (zot's storage.gc* and retention). */
export interface GcSettings {
  /** Minimum age of an unreferenced blob or an upload session before it is removed (ms). */
  gcDelay: number;
  retention: RetentionConfig;
  /** Decide and report, delete nothing (`skiff gc --dry-run`, or retention.dryRun for manifests). */
  dryRun: boolean;
  log: Logger;
  /** zot's audit log: every deletion decision. */
  audit?: Logger;
  /** Progress over repositories (CLI progress bar). */
  onProgress?: (done: number, total: number) => void;
}

/** What one repository's sweep did (or, dry, would do). */
export interface RepoSweep {
  repo: string;
  tags: number;
  manifests: number;
  blobs: number;
  bytes: number;
  uploads: number;
  removedRepo: boolean;
}

/**
 * Mark and sweep of one repository, holding only its lock: pushes to other repositories
 * go on, and this repository's pushes wait at most for one sweep of it. A blob is removed
 * only when nothing reachable from index.json references it, its file is older than
 * gcDelay, and no client touched it since the sweep began minus gcDelay.
 */
export async function sweepRepo(s: StorageInternals, repo: string, settings: GcSettings, sweepStart: number): Promise<RepoSweep> {
  const { layout, index, locks, touches } = s;
  const out: RepoSweep = { repo, tags: 0, manifests: 0, blobs: 0, bytes: 0, uploads: 0, removedRepo: false };
  const audit = (what: Record<string, unknown>) => settings.audit?.info({ action: 'gc', repo, dryRun: settings.dryRun || undefined, ...what }, 'gc');
  await locks.run(repo, async () => {
    // Never judge a repository by index rows older than its index.json (a layout copied in
    // while running, a crash between the two writes): re-read it from disk first.
    const fp = await layout.repos.fingerprint(repo);
    const known = index.repo(repo)?.fingerprint;
    if (!fp || !known || fp.mtimeMs !== known.mtimeMs || fp.size !== known.size || fp.ino !== known.ino) {
      await reindexRepo(layout, index, repo, settings.log);
    }
    const idx = await layout.repos.readIndex(repo);
    if (!idx) return;
    const now = Date.now();
    // Names only: a file's age matters only once it is found unreferenced, so a sweep of a
    // store where everything is live stats nothing (it stat'ed every blob before: 15,000
    // stats, most of a 10,000-manifest sweep).
    const onDisk = new Set(await layout.listBlobDigests(repo));
    const plan = planManifests({
      repo,
      index: idx,
      manifest: (d) => index.manifest(repo, d),
      lastPull: (d) => index.pullStats(repo, d)?.lastPull,
      onDisk,
      retention: settings.retention,
      now,
    });
    const dryManifests = settings.dryRun || settings.retention.dryRun;
    for (const t of plan.removedTags) audit({ kind: 'tag', tag: t.tag, digest: t.digest, reason: t.reason });
    for (const m of plan.removedManifests) audit({ kind: 'manifest', digest: m.digest, reason: m.reason });
    out.tags = plan.removedTags.length;
    out.manifests = plan.removedManifests.length;

    const stale = [...index.manifestDigests(repo)].filter((d) => !plan.live.has(d));
    if (!dryManifests && (plan.removedTags.length > 0 || plan.removedManifests.length > 0 || stale.length > 0)) {
      idx.manifests = plan.descriptors;
      const fingerprint = await layout.repos.writeIndex(repo, idx);
      const liveTags = new Set(plan.descriptors.map(tagOf).filter((t) => t !== undefined));
      await index.write.apply(repo, {
        fingerprint,
        deleteManifests: stale,
        deleteTags: plan.removedTags.map((t) => t.tag).filter((t) => !liveTags.has(t)),
      });
    }

    // Blobs: with dry manifests, what the current index.json reaches stays live.
    const live = dryManifests ? new Set([...index.manifestDigests(repo)]) : new Set(plan.live.keys());
    // A listed manifest the index could not parse still keeps its own blob.
    for (const d of dryManifests ? idx.manifests : plan.descriptors) live.add(d.digest);
    for (const d of [...live]) for (const c of index.manifest(repo, d)?.children ?? []) live.add(c);
    const cutoff = now - settings.gcDelay;
    const touchCutoff = sweepStart - settings.gcDelay;
    const removed: string[] = [];
    const candidates = [...onDisk].filter((d) => !live.has(d));
    // A few files at a time: the repository's lock is held throughout, so its pushes wait
    // for this loop, and one file per event-loop turn crawls when requests are busy.
    await mapLimit(candidates, GC_FILE_CONCURRENCY, async (digest) => {
      const f = await layout.blobs.stat(repo, digest);
      const touched = () => (touches.lastTouch(repo, digest) ?? 0) >= touchCutoff;
      if (!f || f.mtimeMs > cutoff || touched()) return;
      if (!settings.dryRun) {
        // A client may HEAD the blob at any moment (to skip re-uploading it): move the file
        // aside first, then read the touch log. A HEAD that found the file touched before
        // the move, so it is seen here and the file goes back; a later HEAD gets 404.
        const retired = await layout.blobs.retire(repo, digest);
        if (!retired) return;
        if (touched()) {
          await layout.blobs.restore(repo, digest, retired);
          return;
        }
        await layout.blobs.purge(retired);
        removed.push(digest);
      }
      audit({ kind: 'blob', digest, size: f.size, reason: 'unreferenced' });
      out.blobs++;
      out.bytes += f.size;
    });
    // One index transaction for the repository, not one commit per blob.
    if (removed.length > 0) await index.write.removeHolders(removed, repo);
    for (const u of await layout.listUploads(repo)) {
      if (u.mtimeMs > cutoff || (touches.lastTouch(repo, `upload:${u.id}`) ?? 0) >= touchCutoff) continue;
      audit({ kind: 'upload', id: u.id, reason: 'stale' });
      out.uploads++;
      if (!settings.dryRun) await layout.uploads.remove(repo, u.id);
    }
    if (!settings.dryRun && onDisk.size === removed.length && (await layout.listUploads(repo)).length === 0 && (await layout.repos.readIndex(repo))?.manifests.length === 0) {
      audit({ kind: 'repository', reason: 'empty' });
      await layout.repos.remove(repo);
      await index.write.forget(repo);
      out.removedRepo = true;
    }
  });
  return out;
}
