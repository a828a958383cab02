import type { Logger } from 'pino';
import { MANIFEST_KINDS, StreamingHasher, parseDigest, parseManifest } from '../oci/index.ts';
import type { StorageInternals } from './create.ts';
import { tagOf } from './index-json.ts';

/** One image's verdict (zot's scrub row). */
export interface ScrubRow {
  repo: string;
  /** The tag, or the digest for an untagged manifest. */
  tag: string;
  status: 'ok' | 'affected';
  affectedBlob?: string;
  error?: string;
}

/**
 * Re-hashes every manifest, config and layer reachable from each repository's
 * index.json (recursing into indexes and subjects) and reports one row per image:
 * ok, or affected with the first bad blob and why. Reports only; repairs nothing.
 * Hard-linked (deduplicated) blobs are hashed once per inode.
 */
export async function scrub(
  s: StorageInternals,
  log: Logger,
  onRow?: (row: ScrubRow) => void,
  onProgress?: (done: number, total: number) => void,
): Promise<ScrubRow[]> {
  const verified = new Map<number, string | null>();
  const rows: ScrubRow[] = [];
  const started = Date.now();
  let bytes = 0;
  const repos = await s.layout.listRepos();
  log.info({ repos: repos.length }, 'scrub started');

  /** Null when the blob is intact, else the reason. */
  const checkBlob = async (repo: string, digest: string): Promise<string | null> => {
    const st = await s.layout.blobs.stat(repo, digest);
    if (!st) return 'blob missing';
    const cached = verified.get(st.ino);
    if (cached !== undefined) return cached;
    const read = await s.layout.blobs.open(repo, digest);
    if (!read) return 'blob missing';
    const hasher = new StreamingHasher(parseDigest(digest).algorithm);
    for await (const chunk of read.stream) hasher.update(chunk);
    bytes += hasher.size;
    const verdict = hasher.peek() === digest ? null : `content does not match its digest (got ${hasher.peek()})`;
    verified.set(st.ino, verdict);
    return verdict;
  };

  /** The first affected blob of a manifest and everything below it. */
  const checkManifest = async (repo: string, digest: string, seen: Set<string>): Promise<{ blob: string; error: string } | null> => {
    if (seen.has(digest)) return null;
    seen.add(digest);
    const bad = await checkBlob(repo, digest);
    if (bad) return { blob: digest, error: bad };
    const body = await s.layout.blobs.read(repo, digest);
    if (!body) return { blob: digest, error: 'blob missing' };
    let parsed;
    try {
      parsed = parseManifest(body, undefined);
    } catch (err) {
      return { blob: digest, error: `manifest invalid: ${(err as Error).message}` };
    }
    for (const b of parsed.blobs) {
      const e = await checkBlob(repo, b);
      if (e) return { blob: b, error: e };
    }
    for (const child of [...parsed.manifests.map((m) => m.digest), ...(parsed.subject ? [parsed.subject.digest] : [])]) {
      if (parsed.subject?.digest === child && !(await s.layout.blobs.stat(repo, child))) continue;
      const e = await checkManifest(repo, child, seen);
      if (e) return e;
    }
    return null;
  };

  let lastLog = Date.now();
  for (const [i, repo] of repos.entries()) {
    onProgress?.(i, repos.length);
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log.info({ done: i, of: repos.length, mib: Math.round(bytes / 1048576) }, 'scrub progress');
    }
    const idx = await s.layout.repos.readIndex(repo).catch((err: unknown) => {
      rows.push({ repo, tag: '', status: 'affected', affectedBlob: 'index.json', error: `index.json unreadable: ${String(err)}` });
      return null;
    });
    if (!idx) continue;
    for (const d of idx.manifests) {
      if (!MANIFEST_KINDS[d.mediaType]) continue;
      const problem = await checkManifest(repo, d.digest, new Set());
      const row: ScrubRow = problem
        ? { repo, tag: tagOf(d) ?? d.digest, status: 'affected', affectedBlob: problem.blob, error: problem.error }
        : { repo, tag: tagOf(d) ?? d.digest, status: 'ok' };
      rows.push(row);
      onRow?.(row);
      if (problem) log.warn({ ...row }, 'scrub: image affected');
    }
  }
  onProgress?.(repos.length, repos.length);
  const affected = rows.filter((r) => r.status === 'affected').length;
  log.info({ images: rows.length, affected, mib: Math.round(bytes / 1048576), ms: Date.now() - started }, 'scrub finished');
  return rows;
}
