/**
 * Small files the registry reads and re-reads while running: the config file (hot
 * reload), the htpasswd file, TLS certificates, credential files and the API-key store.
 * Lives in platform because only platform, config and storage/layout touch node:fs.
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Reads a file as UTF-8; the error names the file and what it is for. */
export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** Reads a file's bytes, or undefined when it does not exist. */
export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes a file crash-safely (temp file in the same directory, fsync, rename), with
 * `mode` (0600 for secrets), creating the directory when needed.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

/** A running watch; `close()` stops it. */
export interface FileWatch {
  close(): void;
}

/**
 * Calls `onChange` (debounced) whenever one of `paths` is written, replaced (rename over
 * it, as editors and `htpasswd` do), created or removed. Watches the parent directories,
 * because a watch on the file itself dies with the inode a rename replaces.
 */
export function watchFiles(paths: readonly string[], onChange: () => void, debounceMs = 150): FileWatch {
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) {
    const names = byDir.get(dirname(p)) ?? new Set<string>();
    names.add(basename(p));
    byDir.set(dirname(p), names);
  }
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    try {
      const w = watch(dir, { persistent: false }, (_event, file) => {
        // Some platforms omit the name: treat that as "maybe ours".
        if (file === null || names.has(file.toString())) fire();
      });
      w.on('error', () => undefined); // the directory went away; nothing left to watch
      watchers.push(w);
    } catch {
      // A missing directory cannot be watched; the file is then read at startup only.
    }
  }
  return {
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
