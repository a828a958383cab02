import { scrub } from '../storage/index.ts';
import { openOffline } from './offline.ts';
import { ProgressBar } from './progress.ts';

/**
 * `skiff scrub <config>`: re-hashes every image with the server stopped and prints one
 * row per image (zot's scrub report). Exit status 1 when any image is affected.
 */
export async function scrubCommand(args: string[]): Promise<number> {
  const { storage, log } = await openOffline(args, 'scrub');
  const bar = new ProgressBar('scrub', 'repositories');
  try {
    const rows = await scrub(storage.internals, log, undefined, (done, total) => bar.update(done, total));
    const width = Math.max(10, ...rows.map((r) => `${r.repo}:${r.tag}`.length));
    process.stdout.write(`${'IMAGE'.padEnd(width)}  STATUS    AFFECTED BLOB / ERROR\n`);
    for (const r of rows) {
      const detail = r.status === 'ok' ? '' : `${r.affectedBlob ?? ''} ${r.error ?? ''}`;
      process.stdout.write(`${`${r.repo}:${r.tag}`.padEnd(width)}  ${r.status.padEnd(8)}  ${detail}\n`);
    }
    return rows.some((r) => r.status === 'affected') ? 1 : 0;
  } finally {
    await storage.close();
  }
}
