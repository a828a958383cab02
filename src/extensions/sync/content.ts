/**
 * zot's `content[]` rules: which upstream repositories a registry entry mirrors, under which
 * local name (`destination`, `stripPrefix`), and which tags (`regex`, `excludeRegex`,
 * `semver`). The mapping follows zot's `pkg/extensions/sync/content.go` exactly, including
 * its inverse (local name → upstream name) used by on-demand sync.
 */
import type { SyncContent } from '../../config/types.ts';

/**
 * A doublestar glob (zot uses github.com/bmatcuk/doublestar) as a RegExp: `*` and `?` stay
 * within one path segment, `**` spans segments (also none), `[...]` and `{a,b}` as usual.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const atStart = i === 0 || glob[i - 1] === '/';
      const next = glob[i + 2];
      if (atStart && next === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else if (atStart && next === undefined && i > 0) {
        re = re.slice(0, -1) + '(?:/.*)?'; // `a/**` matches `a` and everything below it
        i += 1;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${glob.slice(i + 1, end).split(',').map((alt) => globToRegExp(alt).source.slice(1, -1)).join('|')})`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) re += `\\${glob[++i]}`;
    else re += c.replace(/[.+^$()|\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const trim = (s: string, chars: string) => {
  let a = 0;
  let b = s.length;
  while (a < b && chars.includes(s[a]!)) a++;
  while (b > a && chars.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
};

/** doublestar.SplitPattern: the part of a pattern from the segment holding its first meta character. */
function metaPart(pattern: string): string {
  const meta = pattern.search(/[*?[{\\]/);
  const cut = pattern.lastIndexOf('/', meta < 0 ? pattern.length : meta);
  return cut < 0 ? pattern : pattern.slice(cut + 1);
}

/** Upstream name → local name (zot `getRepoDestination`). */
export function destinationOf(remote: string, c: SyncContent): string {
  let repo = trim(remote, '/');
  const dest = trim(c.destination ?? '', '/');
  if (c.stripPrefix) {
    const prefix = trim(c.prefix, '/*');
    if (repo.startsWith(prefix)) repo = trim(repo.slice(prefix.length), '/');
  }
  return trim([dest, repo].join('/'), '/');
}

/** Local name → upstream name (zot `getRepoSource`). */
export function sourceOf(local: string, c: SyncContent): string {
  let repo = trim(local, '/');
  const dest = trim(c.destination ?? '', '/');
  if (repo.startsWith(dest)) repo = trim(repo.slice(dest.length), '/');
  return trim(c.stripPrefix ? [trim(c.prefix, '/*'), repo].join('/') : repo, '/');
}

/** A tag list filtered by zot's rules, in order: regex, excludeRegex, semver. */
export function filterTags(tags: string[], c: SyncContent | undefined): string[] {
  const t = c?.tags;
  if (!t) return tags;
  let out = tags;
  if (t.regex) {
    const re = new RegExp(t.regex);
    out = out.filter((x) => re.test(x));
  }
  if (t.excludeRegex) {
    const re = new RegExp(t.excludeRegex);
    out = out.filter((x) => !re.test(x));
  }
  // Masterminds/semver (as zot) accepts a leading v and missing minor/patch parts.
  if (t.semver) out = out.filter((x) => /^v?\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(x));
  return out;
}

/** The content rules of one registry entry, compiled once. */
export class ContentRules {
  private readonly byUpstream: { c: SyncContent; re: RegExp }[];
  private readonly byLocal: { c: SyncContent; re: RegExp }[];

  constructor(readonly contents: SyncContent[]) {
    this.byUpstream = contents.map((c) => ({ c, re: globToRegExp(c.prefix.startsWith('/') ? c.prefix.slice(1) : c.prefix) }));
    this.byLocal = contents.map((c) => {
      const prefix = `${trim(c.prefix, '/')}/`;
      const dest = trim(c.destination ?? '', '/');
      const pattern = trim([dest, c.stripPrefix ? metaPart(prefix) : prefix].join('/'), '/');
      return { c, re: globToRegExp(pattern) };
    });
  }

  /** The rule an upstream repository falls under (periodic sync), if any. */
  forUpstream(remote: string): SyncContent | undefined {
    return this.byUpstream.find((x) => x.re.test(remote))?.c;
  }

  /**
   * The upstream name of a local repository (on-demand), or undefined when the rules do
   * not cover it. With no rules at all every repository is mirrored under its own name.
   */
  upstreamName(local: string): { remote: string; content?: SyncContent } | undefined {
    if (this.contents.length === 0) return { remote: local };
    const hit = this.byLocal.find((x) => x.re.test(trim(local, '/')));
    return hit ? { remote: sourceOf(local, hit.c), content: hit.c } : undefined;
  }
}
