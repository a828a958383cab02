import type { Descriptor } from '../oci/index.ts';
import { REF_NAME, type OciIndexJson } from './layout/index.ts';

/**
 * Pure edits of a repository's index.json descriptor list. Tags are descriptors with
 * the `org.opencontainers.image.ref.name` annotation; a manifest without any tag keeps
 * one descriptor without it ("untagged"), so it stays reachable until GC or retention
 * decides otherwise. Descriptors we do not understand are kept as they are.
 */

export function tagOf(d: Descriptor): string | undefined {
  return d.annotations?.[REF_NAME];
}

function plain(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/** Adds a manifest: under each tag, or untagged when `tags` is empty. */
export function addManifest(index: OciIndexJson, m: Descriptor, tags: string[]): { displaced: string[] } {
  const displaced: Descriptor[] = [];
  const tagSet = new Set(tags);
  if (tags.length === 0) {
    if (!index.manifests.some((d) => d.digest === m.digest)) index.manifests.push(plain(m));
    return { displaced: [] };
  }
  index.manifests = index.manifests.filter((d) => {
    const t = tagOf(d);
    if (t !== undefined && tagSet.has(t)) {
      if (d.digest !== m.digest) displaced.push(d);
      return false;
    }
    // A tagged descriptor now names this manifest, so its untagged one is redundant.
    return !(t === undefined && d.digest === m.digest);
  });
  for (const tag of tags) index.manifests.push({ ...plain(m), annotations: { [REF_NAME]: tag } });
  keepUntagged(index, displaced);
  return { displaced: displaced.map((d) => d.digest) };
}

/** Removes a tag; the manifest it named stays, untagged, if nothing else names it. */
export function removeTag(index: OciIndexJson, tag: string): string | undefined {
  const found = index.manifests.find((d) => tagOf(d) === tag);
  if (!found) return undefined;
  index.manifests = index.manifests.filter((d) => d !== found);
  keepUntagged(index, [found]);
  return found.digest;
}

/** Removes every descriptor of a manifest (tags and untagged). Returns the tags removed. */
export function removeManifest(index: OciIndexJson, digest: string): string[] {
  const tags: string[] = [];
  index.manifests = index.manifests.filter((d) => {
    if (d.digest !== digest) return true;
    const t = tagOf(d);
    if (t !== undefined) tags.push(t);
    return false;
  });
  return tags;
}

/** Tag → descriptor, and the digests listed in index.json. */
export function readTags(index: OciIndexJson): { tags: Map<string, Descriptor>; digests: Set<string> } {
  const tags = new Map<string, Descriptor>();
  const digests = new Set<string>();
  for (const d of index.manifests) {
    digests.add(d.digest);
    const t = tagOf(d);
    if (t !== undefined) tags.set(t, d);
  }
  return { tags, digests };
}

/** Re-adds an untagged descriptor for displaced manifests no remaining descriptor lists. */
function keepUntagged(index: OciIndexJson, displaced: Descriptor[]): void {
  for (const d of displaced) {
    if (!index.manifests.some((x) => x.digest === d.digest)) index.manifests.push(plain(d));
  }
}

export function emptyIndex(): OciIndexJson {
  return { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] };
}
