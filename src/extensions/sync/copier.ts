/**
 * Copies an image from an upstream into storage, bottom up, so every write passes the
 * storage rules (a manifest is stored only once everything it names is there): blobs
 * stream straight from the upstream response into an upload session and are verified
 * by digest; child manifests of an index are stored by digest; the top manifest last,
 * byte for byte as the upstream served it, under its tag. Nothing is converted, so the
 * upstream's digests (and the signatures over them) stay valid.
 */
import type { Logger } from 'pino';
import { isRegistryError } from '../../errors/index.ts';
import { MANIFEST_KINDS, isNondistributable, type Descriptor } from '../../oci/index.ts';
import type { Storage } from '../../storage/index.ts';
import { resumableBlob } from './blob.ts';
import { UpstreamError } from './errors.ts';
import { referrersTag, type Upstream, type UpstreamManifest } from './upstream.ts';
import type { Coalescer, Semaphore } from './util.ts';

/** One copy job: where from, where to. */
export interface CopyTarget {
  up: Upstream;
  /** Upstream repository name. */
  remote: string;
  /** Local repository name. */
  local: string;
  signal: AbortSignal;
}

export interface CopierOptions {
  /** Concurrent blob downloads of one registry entry (zot's `reqConcurrent`). */
  downloads: Semaphore;
  /** Shared by every registry entry: one download per local blob at a time. */
  inflight: Coalescer<void>;
  resumes: number;
  retryDelay: number;
  maxRetryDelay: number;
}

/** Artifact types that make an image "signed" for `onlySigned` (zot `IsSigned`). */
const SIGNATURE_TYPES = new Set([
  'application/vnd.cncf.notary.signature',
  'application/vnd.dev.cosign.artifact.sig.v1+json',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
]);

/** Suffixes of pre-referrers cosign tags (`sha256-<hex>.sig`). */
const COSIGN_SUFFIXES = ['sig', 'sbom', 'att'];

export class ImageCopier {
  constructor(private readonly storage: Storage, private readonly log: Logger, private readonly o: CopierOptions) {}

  /** Copies `m` with everything it names and stores it under `reference` (tag or digest). */
  async copy(t: CopyTarget, reference: string, m: UpstreamManifest & { body: Buffer }): Promise<void> {
    await this.children(t, m);
    await this.put(t, reference, m);
  }

  /** Copies referrers of `digest` (recursively: an SBOM's signature too), skipping those held. */
  async referrers(t: CopyTarget, digest: string, recursive: boolean, depth = 0): Promise<number> {
    let copied = 0;
    for (const d of await t.up.referrers(t.remote, digest, t.signal)) {
      if (!MANIFEST_KINDS[d.mediaType]) continue;
      if (!this.storage.manifests.get(t.local, d.digest)) {
        const m = await t.up.manifest(t.remote, d.digest, { signal: t.signal });
        if (!m?.body) continue;
        await this.copy(t, d.digest, { ...m, body: m.body });
        copied++;
      }
      if (recursive && depth < 4) copied += await this.referrers(t, d.digest, true, depth + 1);
    }
    return copied;
  }

  /** Copies the legacy cosign tags of `digest` (`sha256-<hex>.sig/.sbom/.att`) when they changed. */
  async cosignTags(t: CopyTarget, digest: string): Promise<number> {
    let copied = 0;
    for (const suffix of COSIGN_SUFFIXES) {
      const tag = `${referrersTag(digest)}.${suffix}`;
      const head = await t.up.manifest(t.remote, tag, { head: true, signal: t.signal });
      if (!head || (head.digest && this.storage.manifests.get(t.local, tag)?.digest === head.digest)) continue;
      const m = await t.up.manifest(t.remote, tag, { signal: t.signal });
      if (!m?.body) continue;
      await this.copy(t, tag, { ...m, body: m.body });
      copied++;
    }
    return copied;
  }

  /** zot's onlySigned test: a signature referrer, or a legacy cosign `.sig` tag. */
  async isSigned(t: CopyTarget, digest: string): Promise<boolean> {
    const refs = await t.up.referrers(t.remote, digest, t.signal);
    if (refs.some((d) => SIGNATURE_TYPES.has(d.artifactType ?? ''))) return true;
    return (await t.up.manifest(t.remote, `${referrersTag(digest)}.sig`, { head: true, signal: t.signal })) !== null;
  }

  /** Blobs and child manifests a manifest names, fetched in parallel (downloads are bounded). */
  private async children(t: CopyTarget, m: UpstreamManifest & { body: Buffer }): Promise<void> {
    let doc: { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] };
    try {
      doc = JSON.parse(m.body.toString('utf8')) as typeof doc;
    } catch {
      throw new UpstreamError('invalid', `${t.up.url}: manifest ${m.digest} of ${t.remote} is not JSON`);
    }
    const blobs = [doc.config, ...(doc.layers ?? [])].filter((d): d is Descriptor => !!d && !(isNondistributable(d.mediaType) && (d.urls?.length ?? 0) > 0));
    const tasks: Promise<void>[] = [];
    for (const child of doc.manifests ?? []) {
      if (MANIFEST_KINDS[child.mediaType]) tasks.push(this.child(t, child));
      else blobs.push(child);
    }
    tasks.push(...blobs.map((b) => this.blob(t, b)));
    const results = await Promise.allSettled(tasks);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async child(t: CopyTarget, d: Descriptor): Promise<void> {
    if (this.storage.manifests.get(t.local, d.digest)) return;
    const m = await t.up.manifest(t.remote, d.digest, { signal: t.signal });
    if (!m?.body) throw new UpstreamError('invalid', `${t.up.url}: index child ${d.digest} of ${t.remote} is missing`);
    await this.copy(t, d.digest, { ...m, body: m.body });
  }

  private async blob(t: CopyTarget, d: Descriptor): Promise<void> {
    if (await this.storage.blobs.stat(t.local, d.digest)) return;
    await this.o.inflight.run(`${t.local}@${d.digest}`, () =>
      this.o.downloads.run(async () => {
        if (await this.storage.blobs.stat(t.local, d.digest)) return;
        const started = performance.now();
        const body = resumableBlob(t.up, t.remote, d.digest, d.size, {
          resumes: this.o.resumes,
          delayMs: this.o.retryDelay,
          maxDelayMs: this.o.maxRetryDelay,
          signal: t.signal,
          log: this.log,
        });
        try {
          await this.storage.uploads.monolithic(t.local, d.digest, body, d.size);
        } catch (err) {
          // Content that fails verification is the upstream's fault: try the next one.
          if (isRegistryError(err) && (err.code === 'DIGEST_INVALID' || err.code === 'SIZE_INVALID')) throw new UpstreamError('invalid', `${t.up.url}: blob ${d.digest}: ${err.message}`);
          throw err;
        }
        this.log.debug({ repo: t.local, digest: d.digest, size: d.size, ms: Math.round(performance.now() - started) }, 'blob synced');
      }),
    );
  }

  private async put(t: CopyTarget, reference: string, m: UpstreamManifest & { body: Buffer }): Promise<void> {
    try {
      await this.storage.manifests.put(t.local, reference, m.body, m.mediaType);
    } catch (err) {
      if (isRegistryError(err) && err.code === 'MANIFEST_INVALID') throw new UpstreamError('invalid', `${t.up.url}: ${t.remote}@${m.digest}: ${err.message}`);
      throw err;
    }
  }
}
