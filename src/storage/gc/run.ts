import type { StorageInternals } from '../create.ts';
import { type GcSettings, type RepoSweep, sweepRepo } from './sweep.ts';

export type { GcSettings, RepoSweep } from './sweep.ts';

/** Totals of one garbage-collection run. */
export interface GcReport {
  repos: number;
  tags: number;
  manifests: number;
  blobs: number;
  bytes: number;
  uploads: number;
  reposRemoved: number;
  ms: number;
  dryRun: boolean;
}

/**
 * One garbage-collection run over every repository, one repository at a time (each under
 * its own lock only), logging progress as it goes. Repositories are listed from disk, so
 * a layout the index has not seen yet is still collected correctly (its index rows are
 * only read, never trusted for existence).
 */
export async function collectGarbage(s: StorageInternals, settings: GcSettings): Promise<GcReport> {
  const started = Date.now();
  const log = settings.log.child({ module: 'gc' });
  const report: GcReport = { repos: 0, tags: 0, manifests: 0, blobs: 0, bytes: 0, uploads: 0, reposRemoved: 0, ms: 0, dryRun: settings.dryRun };
  // Retention reads pull statistics from the index: write out the ones still in memory.
  await s.index.flushPulls();
  const repos = await s.layout.listRepos();
  log.info({ repos: repos.length, dryRun: settings.dryRun || undefined }, 'gc started');
  let lastLog = Date.now();
  for (const [i, repo] of repos.entries()) {
    settings.onProgress?.(i, repos.length);
    let r: RepoSweep;
    try {
      r = await sweepRepo(s, repo, settings, started);
    } catch (err) {
      log.error({ repo, err }, 'gc of repository failed; continuing with the next');
      continue;
    }
    report.repos++;
    report.tags += r.tags;
    report.manifests += r.manifests;
    report.blobs += r.blobs;
    report.bytes += r.bytes;
    report.uploads += r.uploads;
    if (r.removedRepo) report.reposRemoved++;
    if (r.tags + r.manifests + r.blobs + r.uploads > 0) log.debug({ ...r }, 'repository swept');
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log.info({ done: report.repos, of: repos.length }, 'gc progress');
    }
  }
  settings.onProgress?.(repos.length, repos.length);
  s.touches.prune(started - settings.gcDelay);
  report.ms = Date.now() - started;
  log.info({ ...report }, 'gc finished');
  return report;
}
