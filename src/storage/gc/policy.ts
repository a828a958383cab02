import type { KeepRule, RetentionConfig, RetentionPolicy } from '../../config/types.ts';

/**
 * Retention policy evaluation (zot docs, retention.md): pure functions over tags and
 * their statistics, so the rules can be tested without a store.
 */

/** A tag with what retention rules look at. */
export interface TagFacts {
  tag: string;
  digest: string;
  pushedAt: number;
  lastPull: number | undefined;
}

/**
 * Repository glob: `*` matches within one path level, `**` across levels (zot's
 * doublestar semantics for `repositories`).
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
        if (glob[i + 1] === '/') i++, (re += '(?:/)?');
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The first policy whose `repositories` globs match the repository (zot: first match wins). */
export function policyFor(retention: RetentionConfig, repo: string): RetentionPolicy | undefined {
  return retention.policies.find((p) => p.repositories.some((g) => globToRegExp(g).test(repo)));
}

/**
 * Tags a policy keeps. With no `keepTags` everything is kept. Otherwise a tag is kept
 * when some entry keeps it: its patterns match AND (pulledWithin OR pushedWithin OR among
 * the N most recently pushed OR among the N most recently pulled of the matching tags);
 * an entry with no rule fields keeps every tag its patterns match.
 */
export function keptTags(policy: RetentionPolicy | undefined, tags: TagFacts[], now: number): Set<string> {
  if (!policy || policy.keepTags.length === 0) return new Set(tags.map((t) => t.tag));
  const kept = new Set<string>();
  for (const entry of policy.keepTags) {
    // Unanchored, as zot's Go regexp.MatchString: write ^...$ to match a whole tag.
    const patterns = (entry.patterns.length > 0 ? entry.patterns : ['.*']).map((p) => new RegExp(p));
    const matching = tags.filter((t) => patterns.some((r) => r.test(t.tag)));
    for (const t of keptByRule(entry, matching, now)) kept.add(t.tag);
  }
  return kept;
}

/** Items a keep rule retains among candidates (shared by keepTags and keepUntagged). */
export function keptByRule<T extends { pushedAt: number; lastPull: number | undefined }>(rule: KeepRule, candidates: T[], now: number): T[] {
  const hasRule = rule.pulledWithin !== undefined || rule.pushedWithin !== undefined || rule.mostRecentlyPushedCount > 0 || rule.mostRecentlyPulledCount > 0;
  if (!hasRule) return candidates;
  const keep = new Set<T>();
  for (const c of candidates) {
    if (rule.pulledWithin !== undefined && c.lastPull !== undefined && now - c.lastPull <= rule.pulledWithin) keep.add(c);
    if (rule.pushedWithin !== undefined && now - c.pushedAt <= rule.pushedWithin) keep.add(c);
  }
  if (rule.mostRecentlyPushedCount > 0) {
    for (const c of [...candidates].sort((a, b) => b.pushedAt - a.pushedAt).slice(0, rule.mostRecentlyPushedCount)) keep.add(c);
  }
  if (rule.mostRecentlyPulledCount > 0) {
    const pulled = candidates.filter((c) => c.lastPull !== undefined).sort((a, b) => b.lastPull! - a.lastPull!);
    for (const c of pulled.slice(0, rule.mostRecentlyPulledCount)) keep.add(c);
  }
  return candidates.filter((c) => keep.has(c));
}
