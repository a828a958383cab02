import { collectGarbage } from '../storage/index.ts';
import { openOffline } from './offline.ts';
import { ProgressBar } from './progress.ts';

/** `skiff gc <config> [--dry-run]`: one garbage-collection pass with the server stopped. */
export async function gcCommand(args: string[]): Promise<number> {
  const dryRun = args.includes('--dry-run');
  const { config, storage, log, audit } = await openOffline(args, 'gc');
  const bar = new ProgressBar(dryRun ? 'gc (dry run)' : 'gc', 'repositories');
  try {
    const r = await collectGarbage(storage.internals, {
      gcDelay: config.storage.gcDelay,
      retention: config.storage.retention,
      dryRun,
      log,
      ...(audit ? { audit } : {}),
      onProgress: (done, total) => bar.update(done, total),
    });
    const verb = dryRun ? 'would remove' : 'removed';
    process.stdout.write(
      `${verb}: ${r.tags} tags, ${r.manifests} manifests, ${r.blobs} blobs (${(r.bytes / 1048576).toFixed(1)} MiB), ${r.uploads} uploads, ${r.reposRemoved} empty repositories; ${r.repos} repositories in ${r.ms} ms\n`,
    );
    return 0;
  } finally {
    await storage.close();
  }
}
