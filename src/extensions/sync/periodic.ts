/**
 * Periodic sync (zot: `pollInterval` with `content`): list the upstream catalog, keep the
 * repositories a `content[].prefix` glob matches, list their tags, filter them by the
 * rule's `regex` / `excludeRegex` / `semver`, and sync each tag into its destination name.
 * A tag whose upstream digest equals the local one is skipped (one HEAD); its referrers and
 * cosign tags are still refreshed, so a signature added upstream later arrives too.
 * Progress is logged per repository and as a summary per run.
 */
import type { Logger } from 'pino';
import type { SyncContent } from '../../config/types.ts';
import { validateName } from '../../oci/index.ts';
import { destinationOf, filterTags } from './content.ts';
import { isUnreachable } from './errors.ts';
import type { Outcome, RegistrySync } from './registry.ts';
import type { Storage } from '../../storage/index.ts';

/** Tags that come along with their images instead of being images of their own. */
const COMPANION_TAG = /^sha256-[a-f0-9]{64}(\.(sig|sbom|att))?$/;

export type Counts = Record<Outcome, number>;

const zero = (): Counts => ({ synced: 0, current: 0, absent: 0, filtered: 0, failed: 0, unreachable: 0 });

/** A destination must be a valid repository name (a mapping can produce one that is not). */
function validLocal(remote: string, content: SyncContent | undefined, log: Logger): boolean {
  const local = destinationOf(remote, content!);
  try {
    validateName(local);
    return true;
  } catch {
    log.warn({ remote, local }, 'periodic sync: the destination is not a valid repository name; skipped');
    return false;
  }
}

/** One run over one registry entry: the first URL whose catalog answers is used. */
export async function pollRegistry(reg: RegistrySync, storage: Storage, log: Logger, signal: AbortSignal): Promise<Counts> {
  const started = performance.now();
  const total = zero();
  for (const up of reg.upstreams) {
    let repos: string[];
    try {
      repos = await up.catalog(signal);
    } catch (err) {
      if (signal.aborted) throw err;
      log.warn({ upstream: up.url, err: (err as Error).message }, 'periodic sync: cannot list the upstream catalog; trying the next URL');
      continue;
    }
    const matched = repos.map((remote) => ({ remote, content: reg.rules.forUpstream(remote) })).filter((r) => r.content !== undefined && validLocal(r.remote, r.content, log));
    log.info({ upstream: up.url, repositories: matched.length, listed: repos.length }, 'periodic sync started');
    for (const [i, { remote, content }] of matched.entries()) {
      const local = destinationOf(remote, content!);
      const counts = zero();
      let tags: string[];
      try {
        tags = filterTags((await up.tags(remote, signal)).filter((t) => !COMPANION_TAG.test(t)), content);
      } catch (err) {
        if (signal.aborted) throw err;
        log.warn({ upstream: up.url, repo: remote, err: (err as Error).message }, 'periodic sync: cannot list tags');
        if (isUnreachable(err)) break;
        continue;
      }
      for (const tag of tags) {
        const outcome = await reg.syncImage(local, remote, tag, { local: storage.manifests.get(local, tag), probe: false, recursive: true, extrasWhenCurrent: true, signal }, up);
        counts[outcome]++;
        total[outcome]++;
      }
      log.info({ repo: local, remote, progress: `${i + 1}/${matched.length}`, tags: tags.length, synced: counts.synced, skipped: counts.current, failed: counts.failed + counts.unreachable }, 'periodic sync: repository done');
    }
    log.info({ upstream: up.url, ms: Math.round(performance.now() - started), ...total }, 'periodic sync finished');
    return total;
  }
  log.warn({ urls: reg.cfg.urls }, 'periodic sync: no upstream URL answered');
  return total;
}
