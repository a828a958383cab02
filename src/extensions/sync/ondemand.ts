/**
 * On-demand sync (zot `onDemand: true`), run by the API before it reads storage:
 *
 * - a request by digest that storage holds never contacts an upstream;
 * - a held tag is re-checked upstream at most every `manifestCheckInterval` (every request
 *   when unset, as zot);
 * - a miss waits for the sync (bounded by `syncTimeout`): there is nothing else to serve;
 * - a hit waits at most `upstreamTimeout`, then is served from storage while the sync goes
 *   on in the background (offline first); while an upstream is known to be down a hit is
 *   served at once, and a re-probe runs in the background once its backoff has passed;
 * - concurrent requests for the same reference share one sync, detached from the
 *   requests, so a client that hangs up does not abort it.
 */
import type { Logger } from 'pino';
import { looksLikeDigest } from '../../oci/index.ts';
import type { StoredManifest } from '../../storage/index.ts';
import type { LookupHooks } from '../sdk.ts';
import type { RegistrySync } from './registry.ts';
import { Coalescer, within } from './util.ts';

/** Bound on remembered check times (one entry per repo:reference requested). */
const MAX_CHECKED = 100_000;

interface Target {
  reg: RegistrySync;
  remote: string;
}

export class OnDemand implements Required<LookupHooks> {
  private readonly syncs = new Coalescer<void>();
  /** Last successful upstream check per `repo:reference` (in memory, as zot). */
  private readonly checked = new Map<string, number>();

  constructor(private readonly registries: RegistrySync[], private readonly log: Logger, private readonly closing: AbortSignal) {}

  async beforeManifest(repo: string, reference: string, local: StoredManifest | null): Promise<void> {
    if (local && looksLikeDigest(reference)) return;
    const key = `${repo}:${reference}`;
    await this.run(key, local !== null, (targets, signal) => this.syncManifest(targets, repo, reference, local, signal), repo);
  }

  async beforeReferrers(repo: string, digest: string): Promise<void> {
    // A referrers list always has an answer locally (maybe empty): offline first applies.
    await this.run(`referrers:${repo}@${digest}`, true, async (targets, signal) => {
      for (const { reg, remote } of targets) {
        const outcome = await reg.syncReferrers(repo, remote, digest, signal);
        if (outcome === 'synced' || outcome === 'current') return true;
      }
      return false;
    }, repo);
  }

  /** Wait for every background sync (close). */
  settle(): Promise<unknown> {
    return Promise.allSettled(this.syncs.all());
  }

  private targets(repo: string): Target[] {
    const out: Target[] = [];
    for (const reg of this.registries) {
      if (!reg.cfg.onDemand) continue;
      const hit = reg.rules.upstreamName(repo);
      if (hit) out.push({ reg, remote: hit.remote });
    }
    return out;
  }

  private async run(key: string, held: boolean, work: (targets: Target[], signal: AbortSignal) => Promise<boolean>, repo: string): Promise<void> {
    const targets = this.targets(repo);
    if (targets.length === 0 || this.closing.aborted) return;
    const first = targets[0]!.reg.cfg;
    if (held) {
      const last = this.checked.get(key);
      if (first.manifestCheckInterval && last !== undefined && Date.now() - last < first.manifestCheckInterval) return;
      if (targets.every((t) => t.reg.allDown())) return;
    }
    const sync = this.syncs.run(key, async () => {
      const signal = AbortSignal.any([this.closing, AbortSignal.timeout(first.syncTimeout)]);
      try {
        if (await work(targets, signal)) {
          // Timestamps are a cache: past a bound, forget them all (each key is re-checked once).
          if (this.checked.size >= MAX_CHECKED) this.checked.clear();
          this.checked.set(key, Date.now());
        }
      } catch (err) {
        if (!this.closing.aborted) this.log.warn({ key, err }, 'on-demand sync failed');
      }
    });
    if (!held) return sync;
    // An upstream that failed lately is re-probed in the background only: no request waits on it.
    if (targets.some((t) => t.reg.suspect())) return;
    await within(sync, first.upstreamTimeout);
  }

  private async syncManifest(targets: Target[], repo: string, reference: string, local: StoredManifest | null, signal: AbortSignal): Promise<boolean> {
    for (const { reg, remote } of targets) {
      const outcome = await reg.syncImage(repo, remote, reference, { local, probe: true, recursive: true, extrasWhenCurrent: false, signal });
      if (outcome === 'synced' || outcome === 'current') return true;
      this.log.debug({ repo, reference, registry: reg.id, outcome }, 'not synced from this registry');
    }
    return false;
  }
}
