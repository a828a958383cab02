/**
 * An OCI layout on a local disk as an upstream (`file:///media/usb/mirror` or an absolute
 * path), so a site can be seeded from a disk with the config it uses online. Two shapes:
 *
 * - a single layout (an `oci-layout` file at the top), as `skiff export` writes it: tags
 *   are ref names of the form `<repo>:<tag>`; entries without a ref name are referrers;
 * - a registry root (zot's or skiff's `rootDirectory` copied over): one layout per
 *   repository, nested names as nested directories, tags as plain ref names.
 *
 * A missing path (the disk is not plugged in) counts as an unreachable upstream.
 */
import { fileURLToPath } from 'node:url';
import { type Descriptor, looksLikeDigest, parseManifest } from '../../oci/index.ts';
import { listOciLayouts, ociPathKind, openOciDir, type OciDir } from '../../storage/index.ts';
import { UpstreamError } from './errors.ts';
import { sniffMediaType } from './http-upstream.ts';
import type { ManifestRequest, Upstream, UpstreamBlob, UpstreamManifest } from './upstream.ts';

const REF_NAME = 'org.opencontainers.image.ref.name';

/** One repository's view: its layout and how its tags are spelled there. */
interface View {
  dir: OciDir;
  /** `<repo>:` in a single layout, '' in a registry root. */
  prefix: string;
}

export class LayoutUpstream implements Upstream {
  private readonly root: string;
  private dirs = new Map<string, OciDir>();

  constructor(readonly url: string) {
    this.root = url.startsWith('file://') ? fileURLToPath(url) : url;
  }

  private async open(path: string): Promise<OciDir> {
    let d = this.dirs.get(path);
    if (!d) {
      try {
        d = await openOciDir(path);
      } catch (err) {
        throw new UpstreamError('unreachable', `${path}: ${(err as Error).message}`);
      }
      this.dirs.set(path, d);
    }
    return d;
  }

  private async kind(): Promise<'layout' | 'root'> {
    const k = await ociPathKind(this.root);
    if (k === 'missing') throw new UpstreamError('unreachable', `${this.root} is not there (disk not mounted?)`);
    return k;
  }

  private async view(repo: string): Promise<View | null> {
    if ((await this.kind()) === 'layout') return { dir: await this.open(this.root), prefix: `${repo}:` };
    const path = `${this.root}/${repo}`;
    return (await ociPathKind(path)) === 'layout' ? { dir: await this.open(path), prefix: '' } : null;
  }

  /** The tags of a view with the entries they name. */
  private async tagged(v: View): Promise<Map<string, Descriptor>> {
    const out = new Map<string, Descriptor>();
    for (const e of await v.dir.entries()) {
      const ref = e.annotations?.[REF_NAME];
      if (ref === undefined || !ref.startsWith(v.prefix)) continue;
      const tag = ref.slice(v.prefix.length);
      if (!tag.includes(':') && !tag.includes('/')) out.set(tag, e);
    }
    return out;
  }

  async manifest(repo: string, reference: string, req: ManifestRequest): Promise<UpstreamManifest | null> {
    const v = await this.view(repo);
    if (!v) return null;
    let digest = reference;
    if (!looksLikeDigest(reference)) {
      const e = (await this.tagged(v)).get(reference);
      if (!e) return null;
      digest = e.digest;
    }
    const body = await v.dir.readBlob(digest).catch((err: Error) => {
      throw new UpstreamError('invalid', err.message);
    });
    if (!body) return null;
    const m = { digest, mediaType: sniffMediaType(body) };
    return req.head ? m : { ...m, body };
  }

  async blob(repo: string, digest: string, offset: number): Promise<UpstreamBlob> {
    const v = await this.view(repo);
    const b = v ? await v.dir.openBlob(digest, offset) : null;
    if (!b) throw new UpstreamError('invalid', `${this.root}: blob ${digest} of ${repo} is missing`);
    return { body: b.stream, start: offset };
  }

  async tags(repo: string): Promise<string[]> {
    const v = await this.view(repo);
    return v ? [...(await this.tagged(v)).keys()] : [];
  }

  async catalog(): Promise<string[]> {
    if ((await this.kind()) === 'root') return listOciLayouts(this.root);
    const repos = new Set<string>();
    for (const e of await (await this.open(this.root)).entries()) {
      const ref = e.annotations?.[REF_NAME];
      const m = ref === undefined ? null : /^(.+):([^:/]+)$/.exec(ref);
      if (m) repos.add(m[1]!);
    }
    return [...repos].sort();
  }

  /** Manifests listed in index.json whose subject is `digest` (a layout has no referrers API). */
  async referrers(repo: string, digest: string): Promise<Descriptor[]> {
    const v = await this.view(repo);
    if (!v) return [];
    const out: Descriptor[] = [];
    for (const e of await v.dir.entries()) {
      const body = await v.dir.readBlob(e.digest).catch(() => null);
      if (!body) continue;
      try {
        const p = parseManifest(body, e.mediaType);
        if (p.subject?.digest !== digest) continue;
        const d: Descriptor = { mediaType: p.mediaType, digest: p.digest, size: p.size };
        if (p.artifactType) d.artifactType = p.artifactType;
        if (p.annotations) d.annotations = p.annotations;
        out.push(d);
      } catch {
        // not a manifest we can read: not a referrer
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.dirs.values()].map((d) => d.close()));
    this.dirs.clear();
  }
}
