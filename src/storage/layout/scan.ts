import { opendir, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { mapLimit } from '../../platform/concurrency.ts';
import type { LayoutPaths } from './paths.ts';

/** A blob file found on disk. */
export interface BlobEntry {
  digest: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

/**
 * Walks the root for repositories: directories with an index.json. It descends into
 * repositories too (a/b may live inside a) but never into blobs/, .uploads or `_` state
 * directories, so it costs one readdir per repository, not one per blob. Each level of the
 * tree is read 32 directories at a time: one readdir after another was most of a cold start
 * with a thousand repositories, each a round trip through the thread pool. Sorted names.
 */
export async function listRepoDirs(paths: LayoutPaths): Promise<string[]> {
  const found: string[] = [];
  let level = [paths.root];
  while (level.length > 0) {
    const next: string[] = [];
    await mapLimit(level, 32, async (dir) => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (e.isFile() && e.name === 'index.json' && dir !== paths.root) found.push(relative(paths.root, dir).split(sep).join('/'));
        else if (e.isDirectory() && e.name !== 'blobs' && !e.name.startsWith('.') && !e.name.startsWith('_')) next.push(join(dir, e.name));
      }
    });
    level = next;
  }
  return found.sort();
}

/** Lists every blob file of a repository (GC, scrub, index rebuild). */
export async function* listBlobFiles(paths: LayoutPaths, repo: string): AsyncGenerator<BlobEntry> {
  const base = paths.blobsDir(repo);
  let algs: string[];
  try {
    algs = await readdir(base);
  } catch {
    return;
  }
  for (const alg of algs) {
    let dir;
    try {
      dir = await opendir(join(base, alg));
    } catch {
      continue;
    }
    for await (const e of dir) {
      if (!e.isFile()) continue;
      const st = await stat(join(base, alg, e.name)).catch(() => null);
      if (st) yield { digest: `${alg}:${e.name}`, size: Number(st.size), mtimeMs: Number(st.mtimeMs), ino: Number(st.ino) };
    }
  }
}

/** Digests of a repository's blob files, without a stat per file (index rebuilds). */
export async function listBlobDigests(paths: LayoutPaths, repo: string): Promise<string[]> {
  const out: string[] = [];
  const base = paths.blobsDir(repo);
  for (const alg of await readdir(base).catch(() => [] as string[])) {
    const entries = await readdir(join(base, alg), { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isFile()) out.push(`${alg}:${e.name}`);
  }
  return out;
}

/** Lists upload session ids of a repository with their ages (stale-upload sweep). */
export async function listUploads(paths: LayoutPaths, repo: string): Promise<{ id: string; mtimeMs: number }[]> {
  let names: string[];
  try {
    names = await readdir(paths.uploadsDir(repo));
  } catch {
    return [];
  }
  const out: { id: string; mtimeMs: number }[] = [];
  for (const id of names) {
    const st = await stat(join(paths.uploadsDir(repo), id)).catch(() => null);
    if (st) out.push({ id, mtimeMs: Number(st.mtimeMs) });
  }
  return out;
}
