import type { Logger } from 'pino';
import type { StorageInternals } from './create.ts';

/** Totals of a dedupe conversion pass. */
export interface DedupeReport {
  mode: 'dedupe' | 'restore';
  blobs: number;
  changed: number;
  bytesSaved: number;
  ms: number;
}

/**
 * Converts an existing store after `storage.dedupe` was switched: on → identical blobs of
 * different repositories become hard links to one file; off → every shared file gets its
 * own copy back. One blob at a time under its repository's lock, so requests keep being
 * served (zot's restore pass held its store lock and stalled pushes for many minutes,
 * zot#2999). The mode reached is recorded only when the pass completes, so an
 * interrupted pass simply runs again at the next start.
 */
export async function convertDedupe(s: StorageInternals, dedupe: boolean, log: Logger): Promise<DedupeReport | null> {
  const stored = s.index.setting('dedupe');
  if (stored === dedupe) return null;
  if (stored === undefined && !dedupe) {
    // First start without dedupe: nothing to undo (links, if any, are zot's or the user's).
    await s.index.saveSetting('dedupe', dedupe);
    return null;
  }
  const started = Date.now();
  const report: DedupeReport = { mode: dedupe ? 'dedupe' : 'restore', blobs: 0, changed: 0, bytesSaved: 0, ms: 0 };
  log.info({ mode: report.mode }, 'dedupe conversion started');
  /** digest → [repo, inode] of the first copy seen (the one others link to). */
  const canonical = new Map<string, { repo: string; ino: number }>();
  let lastLog = Date.now();
  for (const repo of await s.layout.listRepos()) {
    for await (const b of s.layout.listBlobs(repo)) {
      report.blobs++;
      await s.locks.run(repo, async () => {
        const st = await s.layout.blobs.stat(repo, b.digest);
        if (!st) return;
        if (dedupe) {
          const first = canonical.get(b.digest);
          if (!first) return void canonical.set(b.digest, { repo, ino: st.ino });
          if (first.ino === st.ino) return;
          if (await s.layout.blobs.link(repo, b.digest, first.repo, 'link')) {
            report.changed++;
            report.bytesSaved += st.size;
          }
        } else if (st.nlink > 1) {
          await s.layout.blobs.unshare(repo, b.digest);
          report.changed++;
          report.bytesSaved -= st.size;
        }
      });
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log.info({ mode: report.mode, blobs: report.blobs, changed: report.changed }, 'dedupe conversion progress');
      }
    }
  }
  await s.index.saveSetting('dedupe', dedupe);
  report.ms = Date.now() - started;
  log.info({ ...report }, 'dedupe conversion finished');
  return report;
}
