/**
 * One `registries[]` entry of the sync config: its upstream URLs (tried in order), content
 * rules, retry settings and copier. `syncImage` brings one image reference into a local
 * repository and says what happened, so on-demand and periodic sync share every rule:
 * a tag whose upstream digest equals the local one is not copied again; an unreachable
 * URL is marked down and the next one tried; "not found", "filtered" and "unsigned" fall
 * through to the next registry entry (zot's order).
 */
import type { Logger } from 'pino';
import type { SyncRegistryConfig } from '../../config/types.ts';
import { looksLikeDigest } from '../../oci/index.ts';
import type { Storage, StoredManifest } from '../../storage/index.ts';
import type { CertDirMaterial, CredentialsMap } from '../../platform/upstream-files.ts';
import { ContentRules } from './content.ts';
import { ImageCopier, type CopyTarget } from './copier.ts';
import { isUnreachable } from './errors.ts';
import type { UpstreamHealth } from './health.ts';
import { HttpUpstream } from './http-upstream.ts';
import { LayoutUpstream } from './layout-upstream.ts';
import type { HostPins } from './pins.ts';
import { isLocalUrl, type Upstream } from './upstream.ts';
import { type Coalescer, Semaphore } from './util.ts';

/** What a sync attempt came to. */
export type Outcome = 'synced' | 'current' | 'absent' | 'filtered' | 'failed' | 'unreachable';

export interface SyncRequest {
  /** What storage holds under the reference now (null: a miss). */
  local: StoredManifest | null;
  /** Check a held tag with a short-deadline HEAD first (on demand). */
  probe: boolean;
  /** Copy referrers of referrers too (not for referrer-triggered on-demand syncs, as zot). */
  recursive: boolean;
  /** Also refresh referrers and cosign tags of an image that is already current (periodic). */
  extrasWhenCurrent: boolean;
  signal: AbortSignal;
}

export interface RegistryDeps {
  storage: Storage;
  log: Logger;
  health: UpstreamHealth;
  credentials: CredentialsMap;
  tls: CertDirMaterial;
  inflight: Coalescer<void>;
  pins: HostPins;
}

/** Default first retry delay when `retryDelay` is not set (zot has none: no retries). */
const DEFAULT_RETRY_DELAY = 1_000;
const DEFAULT_MAX_RETRY_DELAY = 5 * 60_000;

export class RegistrySync {
  readonly upstreams: Upstream[];
  readonly rules: ContentRules;
  readonly copier: ImageCopier;
  private readonly log: Logger;

  constructor(readonly cfg: SyncRegistryConfig, readonly id: number, private readonly deps: RegistryDeps) {
    this.log = deps.log.child({ registry: id });
    this.rules = new ContentRules(cfg.content);
    const retryDelay = cfg.retryDelay ?? DEFAULT_RETRY_DELAY;
    const maxRetryDelay = cfg.maxRetryDelay ?? DEFAULT_MAX_RETRY_DELAY;
    this.upstreams = cfg.urls.map((url) => {
      if (isLocalUrl(url)) return new LayoutUpstream(url);
      const host = new URL(/^[a-z]+:\/\//i.test(url) ? url : `https://${url}`).host;
      const creds = deps.credentials[host];
      return new HttpUpstream(url, {
        tlsVerify: cfg.tlsVerify,
        tls: deps.tls,
        ...(creds ? { creds } : {}),
        maxRetries: cfg.maxRetries ?? 0,
        retryDelay,
        maxRetryDelay,
        probeTimeoutMs: cfg.upstreamTimeout,
        pins: deps.pins,
      });
    });
    this.copier = new ImageCopier(deps.storage, this.log, {
      downloads: new Semaphore(cfg.reqConcurrent),
      inflight: deps.inflight,
      // A broken download resumes a few times even without maxRetries: resuming is cheap.
      resumes: Math.max(cfg.maxRetries ?? 0, 3),
      // Resuming is worth doing quickly: the connection broke, the upstream is likely fine.
      retryDelay: cfg.retryDelay ?? 250,
      maxRetryDelay,
    });
  }

  /** True when every URL is in its backoff period. */
  allDown(): boolean {
    return this.cfg.urls.every((u) => this.deps.health.isDown(u));
  }

  /** True when some URL failed lately and has not answered since. */
  suspect(): boolean {
    return this.cfg.urls.some((u) => this.deps.health.isSuspect(u));
  }

  /** Syncs `remote:reference` into `local`, trying the URLs in order (or only `from`). */
  async syncImage(local: string, remote: string, reference: string, req: SyncRequest, from?: Upstream): Promise<Outcome> {
    for (const up of from ? [from] : this.upstreams) {
      // Offline first: with a local copy in hand, a URL in backoff is not even tried.
      if (req.local && this.deps.health.isDown(up.url)) continue;
      try {
        const outcome = await this.fromUpstream({ up, remote, local, signal: req.signal }, reference, req);
        if (this.deps.health.markUp(up.url)) this.log.info({ upstream: up.url }, 'upstream reachable again');
        return outcome;
      } catch (err) {
        if (req.signal.aborted) throw err;
        if (isUnreachable(err)) {
          const wait = this.deps.health.markDown(up.url);
          this.log.warn({ upstream: up.url, repo: local, reference, retryInMs: wait, err: (err as Error).message }, 'upstream unreachable; serving local content');
          continue;
        }
        this.log.warn({ upstream: up.url, repo: local, reference, err }, 'sync failed');
        return 'failed';
      }
    }
    return 'unreachable';
  }

  /** On-demand referrers: copies the referrers of `digest` the upstream lists (not recursive, as zot). */
  async syncReferrers(local: string, remote: string, digest: string, signal: AbortSignal): Promise<Outcome> {
    for (const up of this.upstreams) {
      if (this.deps.health.isDown(up.url)) continue;
      try {
        const n = await this.copier.referrers({ up, remote, local, signal }, digest, false);
        this.deps.health.markUp(up.url);
        if (n > 0) this.log.info({ repo: local, digest, referrers: n }, 'referrers synced');
        return n > 0 ? 'synced' : 'current';
      } catch (err) {
        if (signal.aborted) throw err;
        if (!isUnreachable(err)) {
          this.log.warn({ upstream: up.url, repo: local, digest, err }, 'referrers sync failed');
          return 'failed';
        }
        this.deps.health.markDown(up.url);
      }
    }
    return 'unreachable';
  }

  private async fromUpstream(t: CopyTarget, reference: string, req: SyncRequest): Promise<Outcome> {
    const byTag = !looksLikeDigest(reference);
    if (req.local && byTag) {
      const head = await t.up.manifest(t.remote, reference, { head: true, probe: req.probe, signal: t.signal });
      if (!head) return 'absent';
      if (head.digest === req.local.digest) {
        if (req.extrasWhenCurrent) await this.extras(t, head.digest, req.recursive);
        return 'current';
      }
    }
    // An upstream that failed lately gets the short deadline even for a miss: an offline
    // site answers "not here" after upstreamTimeout, not after a 30 s wait per request.
    const quick = req.probe && this.deps.health.isSuspect(t.up.url);
    const m = await t.up.manifest(t.remote, reference, { probe: quick, signal: t.signal });
    if (!m?.body) return 'absent';
    if (req.local?.digest === m.digest) {
      if (req.extrasWhenCurrent) await this.extras(t, m.digest, req.recursive);
      return 'current';
    }
    if (this.cfg.onlySigned && !(await this.copier.isSigned(t, m.digest))) {
      this.log.info({ repo: t.local, reference, digest: m.digest }, 'image not signed upstream; skipped (onlySigned)');
      return 'filtered';
    }
    const started = performance.now();
    await this.copier.copy(t, reference, { ...m, body: m.body });
    await this.extras(t, m.digest, req.recursive);
    this.log.info({ upstream: t.up.url, repo: t.local, remote: t.remote, reference, digest: m.digest, ms: Math.round(performance.now() - started) }, 'image synced');
    return 'synced';
  }

  /** Referrers and legacy cosign tags come along; a failure there does not undo the image. */
  private async extras(t: CopyTarget, digest: string, recursive: boolean): Promise<void> {
    try {
      const referrers = await this.copier.referrers(t, digest, recursive);
      const cosign = this.cfg.syncLegacyCosignTags ? await this.copier.cosignTags(t, digest) : 0;
      if (referrers + cosign > 0) this.log.info({ repo: t.local, digest, referrers, cosignTags: cosign }, 'signatures and referrers synced');
    } catch (err) {
      if (t.signal.aborted) throw err;
      this.log.warn({ repo: t.local, digest, err }, 'referrers not synced');
    }
  }

  close(): Promise<unknown> {
    return Promise.all(this.upstreams.map((u) => u.close()));
  }
}
