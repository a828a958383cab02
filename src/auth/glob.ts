/**
 * Repository globs with doublestar semantics, as zot matches `accessControl.repositories`
 * (github.com/bmatcuk/doublestar): `*` and `?` stay within one path segment, `**` spans
 * segments (`a/**` matches `a` and everything below it, `**\/b` matches `b` at any
 * depth), `{x,y}` is alternation, `[...]` a character class. Everything else is literal.
 */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${translate(glob)}$`);
}

function translate(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        const atStart = i === 0 || glob[i - 1] === '/';
        const slashAfter = glob[i + 2] === '/';
        const atEnd = i + 2 === glob.length;
        if (atStart && slashAfter) {
          re += '(?:[^/]+/)*'; // `**/`: zero or more whole segments
          i += 2;
          continue;
        }
        if (atStart && atEnd && re.endsWith('/')) {
          re = `${re.slice(0, -1)}(?:/.*)?`; // `a/**`: a itself and everything below
          i += 1;
          continue;
        }
        re += '.*';
        i += 1;
        continue;
      }
      re += '[^/]*';
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '{') {
      const close = glob.indexOf('}', i);
      if (close < 0) {
        re += '\\{';
        continue;
      }
      re += `(?:${glob
        .slice(i + 1, close)
        .split(',')
        .map(translate)
        .join('|')})`;
      i = close;
    } else if (ch === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close).replace(/\\/g, '\\\\');
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body}]`;
      i = close;
    } else {
      re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return re;
}

/** A compiled set of globs: which ones match a name, and which is the longest (zot's rule). */
export class GlobSet<T> {
  private readonly entries: { glob: string; re: RegExp; value: T }[];

  constructor(map: Record<string, T>) {
    this.entries = Object.entries(map).map(([glob, value]) => ({ glob, re: globToRegExp(glob), value }));
    // Longest first, so the first hit is the winner (zot compares pattern lengths).
    this.entries.sort((a, b) => b.glob.length - a.glob.length);
  }

  /** The value of the longest glob matching `name`, if any. */
  longest(name: string): T | undefined {
    for (const e of this.entries) if (e.re.test(name)) return e.value;
    return undefined;
  }

  get size(): number {
    return this.entries.length;
  }

  values(): T[] {
    return this.entries.map((e) => e.value);
  }
}
