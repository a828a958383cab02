/**
 * An upstream registry over the distribution API. Manifests are read whole (4 MiB cap) and
 * their digest computed over the bytes received; blobs are handed on as streams. Docker
 * Hub keeps official images under `library/`, so a single-component name is mapped there
 * when the upstream is Docker Hub (what `docker pull alpine` does).
 */
import { type Descriptor, MAX_MANIFEST_BYTES, MediaType, digestOf, looksLikeDigest, parseDigest } from '../../oci/index.ts';
import { RegistryClient, header, type ClientOptions, type Response } from './client.ts';
import { UpstreamError } from './errors.ts';
import { referrersTag, type ManifestRequest, type Upstream, type UpstreamBlob, type UpstreamManifest } from './upstream.ts';

/** Every manifest type we store; a registry picks what it has. */
const ACCEPT = [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList].join(', ');
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
/** Metadata requests for content we do not hold yet may take this long (there is nothing else to serve). */
const SLOW_TIMEOUT_MS = 30_000;

export interface HttpUpstreamOptions extends Omit<ClientOptions, 'base'> {
  /** Short deadline of probes (skiff's `upstreamTimeout`). */
  probeTimeoutMs: number;
}

export class HttpUpstream implements Upstream {
  readonly client: RegistryClient;
  private readonly dockerHub: boolean;

  constructor(readonly url: string, private readonly opts: HttpUpstreamOptions) {
    let base = new URL(/^[a-z]+:\/\//i.test(url) ? url : `https://${url}`);
    this.dockerHub = DOCKER_HUB.has(base.hostname);
    // docker.io itself serves a website; its registry API lives on registry-1.docker.io.
    if (base.hostname === 'docker.io') base = new URL('https://registry-1.docker.io');
    this.client = new RegistryClient({ ...opts, base });
  }

  /** Upstream name as the API wants it (`alpine` → `library/alpine` on Docker Hub). */
  private name(repo: string): string {
    return this.dockerHub && !repo.includes('/') ? `library/${repo}` : repo;
  }

  async manifest(repo: string, reference: string, req: ManifestRequest): Promise<UpstreamManifest | null> {
    const res = await this.client.send(`/v2/${this.name(repo)}/manifests/${reference}`, {
      method: req.head ? 'HEAD' : 'GET',
      headers: { accept: ACCEPT },
      timeoutMs: req.probe ? this.opts.probeTimeoutMs : SLOW_TIMEOUT_MS,
      retry: !req.probe,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    if (await this.missing(res)) return null;
    const mediaType = (header(res, 'content-type') ?? '').split(';')[0]!.trim();
    const claimed = header(res, 'docker-content-digest');
    if (req.head) {
      await res.body.dump();
      const digest = looksLikeDigest(reference) ? reference : claimed;
      // Without a digest header (digest '') a HEAD only says "it exists"; callers then GET.
      return { digest: digest ?? '', mediaType };
    }
    const body = await readLimited(res, MAX_MANIFEST_BYTES);
    const alg = looksLikeDigest(reference) ? parseDigest(reference).algorithm : 'sha256';
    const digest = digestOf(body, alg);
    if (looksLikeDigest(reference) && digest !== reference) throw new UpstreamError('invalid', `${this.url}: manifest ${reference} has digest ${digest}`);
    if (claimed && claimed.startsWith(`${alg}:`) && claimed !== digest) throw new UpstreamError('invalid', `${this.url}: manifest digest ${digest} differs from Docker-Content-Digest ${claimed}`);
    return { digest, mediaType: mediaType || sniffMediaType(body), body };
  }

  async blob(repo: string, digest: string, offset: number, signal?: AbortSignal): Promise<UpstreamBlob> {
    const res = await this.client.send(`/v2/${this.name(repo)}/blobs/${digest}`, {
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      timeoutMs: SLOW_TIMEOUT_MS,
      retry: true,
      ...(signal ? { signal } : {}),
    });
    if (res.statusCode === 206) {
      const start = Number(/bytes (\d+)-/.exec(header(res, 'content-range') ?? '')?.[1] ?? NaN);
      if (Number.isSafeInteger(start)) return { body: res.body, start };
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new UpstreamError(res.statusCode === 404 ? 'invalid' : 'unreachable', `${this.url}: blob ${digest} answered HTTP ${res.statusCode}`, res.statusCode);
    }
    return { body: res.body, start: 0 };
  }

  tags(repo: string, signal?: AbortSignal): Promise<string[]> {
    return this.pages(`/v2/${this.name(repo)}/tags/list?n=1000`, 'tags', signal);
  }

  catalog(signal?: AbortSignal): Promise<string[]> {
    return this.pages('/v2/_catalog?n=1000', 'repositories', signal);
  }

  async referrers(repo: string, digest: string, signal?: AbortSignal): Promise<Descriptor[]> {
    const res = await this.client.send(`/v2/${this.name(repo)}/referrers/${digest}`, {
      headers: { accept: MediaType.OciIndex },
      timeoutMs: SLOW_TIMEOUT_MS,
      retry: true,
      ...(signal ? { signal } : {}),
    });
    if (res.statusCode === 200 && (header(res, 'content-type') ?? '').startsWith(MediaType.OciIndex)) {
      return manifestsOf(await readLimited(res, MAX_MANIFEST_BYTES));
    }
    await res.body.dump();
    // No referrers API (distribution 2.x): the referrers tag schema holds the same index.
    const tagged = await this.manifest(repo, referrersTag(digest), signal ? { signal } : {});
    return tagged?.body ? manifestsOf(tagged.body) : [];
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** True (body consumed) for "not here": 404, or 401/403 once authentication was tried. */
  private async missing(res: Response): Promise<boolean> {
    if (res.statusCode >= 200 && res.statusCode < 300) return false;
    await res.body.dump();
    if (res.statusCode === 404 || res.statusCode === 401 || res.statusCode === 403) return true;
    throw new UpstreamError('invalid', `${this.url}: HTTP ${res.statusCode}`, res.statusCode);
  }

  /** Follows `Link: <…>; rel="next"` pages of a tag list or catalog. */
  private async pages(first: string, field: 'tags' | 'repositories', signal?: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = first;
    for (let page = 0; next && page < 10_000; page++) {
      const res: Response = await this.client.send(next, { timeoutMs: SLOW_TIMEOUT_MS, retry: true, ...(signal ? { signal } : {}) });
      if (await this.missing(res)) return out;
      const doc = JSON.parse((await readLimited(res, 64 << 20)).toString('utf8')) as Record<string, unknown>;
      const items = doc[field];
      if (Array.isArray(items)) out.push(...items.filter((x): x is string => typeof x === 'string'));
      next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res, 'link') ?? '')?.[1];
    }
    return out;
  }
}

/** Reads a body whole, refusing more than `limit` bytes. */
async function readLimited(res: Response, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += (chunk as Buffer).length;
    if (n > limit) {
      res.body.destroy();
      throw new UpstreamError('invalid', `response larger than ${limit} bytes`);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts, n);
}

/** The manifests of an image index body (referrers lists). */
export function manifestsOf(body: Buffer): Descriptor[] {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { manifests?: unknown };
    return Array.isArray(doc.manifests) ? (doc.manifests as Descriptor[]).filter((d) => typeof d?.digest === 'string') : [];
  } catch {
    return [];
  }
}

/** The media type a manifest declares, for upstreams that send none. */
export function sniffMediaType(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    return Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  } catch {
    return MediaType.OciManifest;
  }
}
