/**
 * What an image is made of, for the air-gap commands: the blobs and child manifests a
 * manifest names (config, distributable layers, index children). Foreign layers (urls set)
 * are not copied: registries never hold them. Also the `repo:tag` spelling both commands use.
 */
import { MANIFEST_KINDS, isNondistributable, validateName, type Descriptor } from '../oci/index.ts';

/** The annotation naming an image in an OCI layout's index.json. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Children {
  blobs: Descriptor[];
  manifests: Descriptor[];
  subject?: Descriptor;
}

/** Children of a manifest body (throws on a body that is not JSON). */
export function childrenOf(body: Buffer): Children {
  const doc = JSON.parse(body.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[]; subject?: Descriptor };
  const blobs = [doc.config, ...(doc.layers ?? [])].filter((d): d is Descriptor => !!d && !(isNondistributable(d.mediaType) && (d.urls?.length ?? 0) > 0));
  const manifests: Descriptor[] = [];
  for (const d of doc.manifests ?? []) (MANIFEST_KINDS[d.mediaType] ? manifests : blobs).push(d);
  return doc.subject ? { blobs, manifests, subject: doc.subject } : { blobs, manifests };
}

/**
 * `repo:tag` → {repo, tag}; `repo@digest` → {repo, digest}; `repo` → {repo}. The tag is
 * what follows the last colon after the last slash, so `host:5000/a/b` stays a name.
 */
export function parseRef(ref: string): { repo: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  if (at > 0) return { repo: validateName(ref.slice(0, at)), digest: ref.slice(at + 1) };
  const m = /^(.+):([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/.exec(ref);
  if (m && !m[2]!.includes('/')) return { repo: validateName(m[1]!), tag: m[2]! };
  return { repo: validateName(ref) };
}

/** Human bytes for progress lines. */
export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
