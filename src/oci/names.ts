import { RegistryError } from '../errors/index.ts';

/**
 * Repository name grammar, distribution-spec "Pulling manifests":
 *   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 */
const NAME_GRAMMAR = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/** Tag grammar, distribution-spec: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
const TAG_GRAMMAR = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/**
 * Clients cap `<host>/<name>` at 255 characters (spec note); a longer name could never
 * be pulled, so it is refused up front. Each component becomes a directory name, and
 * 255 bytes is the usual filesystem limit for one.
 */
export const MAX_NAME_LENGTH = 255;

/**
 * A repository is a directory holding an OCI layout, so a nested component may not be
 * named like an entry of its parent's layout: `a/blobs` would live inside `a`'s blob
 * store. The grammar already excludes names starting with `.` or `_` (uploads, `_trivy`).
 */
const RESERVED_COMPONENTS = new Set(['blobs', 'index.json', 'oci-layout']);

// Names already found valid: a pull asks for the same few names thousands of times, and
// the grammar's regex is a measurable share of a manifest HEAD. Bounded; cleared when full.
const knownGood = new Set<string>();

/** Validates a repository name; throws NAME_INVALID with the reason. */
export function validateName(name: string): string {
  if (knownGood.has(name)) return name;
  checkName(name);
  if (knownGood.size >= 4096) knownGood.clear();
  knownGood.add(name);
  return name;
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new RegistryError('NAME_INVALID', `repository name must be 1 to ${MAX_NAME_LENGTH} characters`, { detail: { name: name.slice(0, 300) } });
  }
  if (!NAME_GRAMMAR.test(name)) {
    throw new RegistryError('NAME_INVALID', 'repository name does not match the distribution-spec grammar', { detail: { name } });
  }
  const parts = name.split('/');
  for (let i = 1; i < parts.length; i++) {
    if (RESERVED_COMPONENTS.has(parts[i]!)) {
      throw new RegistryError('NAME_INVALID', `"${parts[i]}" is reserved inside a repository path`, { detail: { name } });
    }
  }
}

/** True for a syntactically valid tag. */
export function isValidTag(tag: string): boolean {
  return TAG_GRAMMAR.test(tag);
}

/**
 * Validates a tag for a push. The spec's error table has no TAG_INVALID code (older
 * drafts did), so a bad tag is a MANIFEST_INVALID, as zot answers.
 */
export function validateTag(tag: string): string {
  if (!isValidTag(tag)) throw new RegistryError('MANIFEST_INVALID', `invalid tag "${tag.slice(0, 140)}"`, { detail: { tag: tag.slice(0, 140) } });
  return tag;
}
