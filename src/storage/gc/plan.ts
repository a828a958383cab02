import type { Descriptor } from '../../oci/index.ts';
import { MANIFEST_KINDS } from '../../oci/index.ts';
import type { RetentionConfig } from '../../config/types.ts';
import type { OciIndexJson } from '../layout/index.ts';
import type { ManifestRecord } from '../index/index.ts';
import { tagOf } from '../index-json.ts';
import { keptByRule, keptTags, policyFor, type TagFacts } from './policy.ts';

/** Why a manifest or tag goes (for logs and the audit log). */
export type Reason = 'retention' | 'untagged' | 'referrer-without-subject' | 'missing-blob';

/** What one repository's sweep will change in index.json. */
export interface ManifestPlan {
  /** The new descriptor list of index.json. */
  descriptors: Descriptor[];
  removedTags: { tag: string; digest: string; reason: Reason }[];
  removedManifests: { digest: string; reason: Reason }[];
  /** Every manifest still reachable from index.json (listed, or a child of a listed index). */
  live: Map<string, ManifestRecord>;
}

export interface PlanInput {
  repo: string;
  index: OciIndexJson;
  manifest(digest: string): ManifestRecord | undefined;
  lastPull(digest: string): number | undefined;
  /** Whether the manifest's blob file exists. */
  onDisk: Set<string>;
  retention: RetentionConfig;
  now: number;
}

/**
 * zot's GC rules for one repository (reference §5.4): tag retention first, then, until
 * nothing changes, referrers whose subject is gone (only with `deleteReferrers`) and
 * untagged manifests older than `retention.delay` that no index references and that have
 * no subject (unless `deleteUntagged: false`); entries whose blob is missing go too.
 * Repositories matching no policy keep all tags, drop untagged manifests, keep referrers.
 */
export function planManifests(input: PlanInput): ManifestPlan {
  const { index, now, retention } = input;
  const policy = policyFor(retention, input.repo);
  const removedTags: ManifestPlan['removedTags'] = [];
  const removedManifests: ManifestPlan['removedManifests'] = [];
  let descriptors = index.manifests.filter((d) => {
    if (input.onDisk.has(d.digest) || !MANIFEST_KINDS[d.mediaType]) return true;
    const t = tagOf(d);
    if (t !== undefined) removedTags.push({ tag: t, digest: d.digest, reason: 'missing-blob' });
    else removedManifests.push({ digest: d.digest, reason: 'missing-blob' });
    return false;
  });

  const facts: TagFacts[] = [];
  for (const d of descriptors) {
    const t = tagOf(d);
    if (t === undefined) continue;
    facts.push({ tag: t, digest: d.digest, pushedAt: input.manifest(d.digest)?.pushedAt ?? 0, lastPull: input.lastPull(d.digest) });
  }
  const keep = keptTags(policy, facts, now);
  descriptors = descriptors.filter((d) => {
    const t = tagOf(d);
    if (t === undefined || keep.has(t)) return true;
    removedTags.push({ tag: t, digest: d.digest, reason: 'retention' });
    // The manifest stays listed, untagged, for the untagged rule below to judge.
    return false;
  });
  for (const r of removedTags) {
    if (r.reason === 'retention' && !descriptors.some((d) => d.digest === r.digest)) {
      const rec = input.manifest(r.digest);
      if (rec) descriptors.push({ mediaType: rec.mediaType, digest: rec.digest, size: rec.size });
    }
  }

  const deleteUntagged = policy?.deleteUntagged ?? true;
  const deleteReferrers = policy?.deleteReferrers ?? false;
  for (let changed = true; changed; ) {
    changed = false;
    const live = closure(descriptors, input.manifest);
    const referencedByIndex = new Set<string>();
    for (const m of live.values()) if (MANIFEST_KINDS[m.mediaType] === 'index') for (const c of m.children) referencedByIndex.add(c);
    const untagged = descriptors.filter((d) => tagOf(d) === undefined && !descriptors.some((x) => x.digest === d.digest && tagOf(x) !== undefined));
    const keepUntagged = policy?.keepUntagged
      ? new Set(keptByRule(policy.keepUntagged, untagged.map((d) => ({ d, pushedAt: input.manifest(d.digest)?.pushedAt ?? 0, lastPull: input.lastPull(d.digest) })), now).map((x) => x.d.digest))
      : new Set<string>();
    const drop = new Map<string, Reason>();
    for (const d of untagged) {
      const rec = input.manifest(d.digest);
      if (!rec) continue;
      if (rec.subject) {
        if (deleteReferrers && !live.has(rec.subject) && now - rec.pushedAt >= retention.delay) drop.set(d.digest, 'referrer-without-subject');
        continue;
      }
      if (!deleteUntagged || referencedByIndex.has(d.digest) || keepUntagged.has(d.digest)) continue;
      if (now - rec.pushedAt >= retention.delay) drop.set(d.digest, 'untagged');
    }
    if (drop.size > 0) {
      descriptors = descriptors.filter((d) => !drop.has(d.digest));
      for (const [digest, reason] of drop) removedManifests.push({ digest, reason });
      changed = true;
    }
  }
  return { descriptors, removedTags, removedManifests, live: closure(descriptors, input.manifest) };
}

/** Manifests reachable from descriptors, through the children of image indexes. */
export function closure(descriptors: Descriptor[], manifest: (digest: string) => ManifestRecord | undefined): Map<string, ManifestRecord> {
  const live = new Map<string, ManifestRecord>();
  const queue = descriptors.map((d) => d.digest);
  while (queue.length > 0) {
    const digest = queue.pop()!;
    if (live.has(digest)) continue;
    const rec = manifest(digest);
    if (!rec) continue;
    live.set(digest, rec);
    if (MANIFEST_KINDS[rec.mediaType] === 'index') queue.push(...rec.children);
  }
  return live;
}
