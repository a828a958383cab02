/**
 * OCI image layouts outside the registry root: the air-gap transfer format (`skiff export`
 * / `skiff import`), a tar of one (skopeo's `oci-archive:`), and a local directory used
 * as a sync upstream (`file:///media/usb/mirror`). Only the layout module touches the
 * filesystem, so the readers and writers live here and are handed out through the storage
 * facade (`openOciDir`, `createOciWriter`), never as paths into the registry's own tree.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { type Descriptor, parseDigest } from '../../oci/index.ts';
import { REF_NAME } from './repo.ts';

export { REF_NAME };

/** tar-stream only for import/export: loaded on first use, kept out of the server's startup. */
const loadTar = async () => (await import('tar-stream')).default;

/** A readable OCI image layout (a directory, or a tar unpacked to a temp directory). */
export interface OciDir {
  readonly path: string;
  /** The entries of index.json, re-read on every call (a live directory may change). */
  entries(): Promise<Descriptor[]>;
  /** A small blob (a manifest) whole, verified against its digest; null when absent. */
  readBlob(digest: string): Promise<Buffer | null>;
  /** Streams a blob from `offset`; the caller verifies the digest (storage does on upload). */
  openBlob(digest: string, offset?: number): Promise<{ stream: AsyncIterable<Buffer> & { destroy(): void }; size: number } | null>;
  /** Removes the temp directory of an unpacked tar. */
  close(): Promise<void>;
}

const LAYOUT_FILE = /^(?:\.\/)?(oci-layout|index\.json|blobs\/[a-z0-9+._-]+\/[a-zA-Z0-9=_-]+)$/;

function blobPath(root: string, digest: string): string {
  const d = parseDigest(digest);
  return join(root, 'blobs', d.algorithm, d.hex);
}

/**
 * Opens a layout directory, or a `.tar` of one (unpacked under `tmpDir` first: a tar has
 * no random access, and an importer reads manifests before the blobs they name).
 */
export async function openOciDir(path: string, opts: { tmpDir?: string } = {}): Promise<OciDir> {
  const st = await stat(path);
  let root = path;
  let cleanup = async () => undefined as void;
  if (st.isFile()) {
    const tmp = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'skiff-oci-'));
    cleanup = () => rm(tmp, { recursive: true, force: true });
    try {
      await untar(path, tmp);
    } catch (err) {
      await cleanup();
      throw err;
    }
    root = tmp;
  }
  const layout = await readFile(join(root, 'oci-layout'), 'utf8').catch(() => undefined);
  if (layout === undefined || !/"imageLayoutVersion"/.test(layout)) {
    await cleanup();
    throw new Error(`${path} is not an OCI image layout (no oci-layout file)`);
  }
  return {
    path,
    async entries() {
      const doc = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
      return Array.isArray(doc.manifests) ? doc.manifests : [];
    },
    async readBlob(digest) {
      const data = await readFile(blobPath(root, digest)).catch(() => null);
      if (data === null) return null;
      const d = parseDigest(digest);
      const got = `${d.algorithm}:${createHash(d.algorithm).update(data).digest('hex')}`;
      if (got !== digest) throw new Error(`blob ${digest} in ${path} has digest ${got}`);
      return data;
    },
    async openBlob(digest, offset = 0) {
      const p = blobPath(root, digest);
      const fh = await open(p, 'r').catch(() => null);
      if (fh === null) return null;
      const size = (await fh.stat()).size;
      const stream = fh.createReadStream({ start: offset, highWaterMark: 512 * 1024, autoClose: true });
      return { stream: stream as unknown as AsyncIterable<Buffer> & { destroy(): void }, size };
    },
    close: cleanup,
  };
}

/** Unpacks only layout files (no links, no paths outside the layout) from a tar. */
async function untar(file: string, dest: string): Promise<void> {
  const extract = (await loadTar()).extract();
  createReadStream(file).on('error', (err) => extract.destroy(err)).pipe(extract);
  for await (const entry of extract) {
    const name = entry.header.name;
    if (entry.header.type !== 'file' || !LAYOUT_FILE.test(name)) {
      entry.resume();
      continue;
    }
    const out = join(dest, name);
    await mkdir(dirname(out), { recursive: true });
    const ws = createWriteStream(out);
    for await (const chunk of entry) if (!ws.write(chunk)) await once(ws, 'drain');
    ws.end();
    await once(ws, 'close');
  }
}

/**
 * Relative paths of the OCI layouts below `root` (a zot/skiff root directory copied to a
 * disk: one layout per repository, nested names as nested directories).
 */
export async function listOciLayouts(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    if (entries.some((e) => e.isFile() && e.name === 'index.json') && dir !== root) out.push(relative(root, dir).split(sep).join('/'));
    for (const e of entries) {
      if (e.isDirectory() && e.name !== 'blobs' && !e.name.startsWith('.') && !e.name.startsWith('_')) await walk(join(dir, e.name));
    }
  };
  await walk(root);
  return out.sort();
}

/** What is at `path`: a single layout (has oci-layout), a directory (a root of many), or nothing. */
export async function ociPathKind(path: string): Promise<'layout' | 'root' | 'missing'> {
  if ((await stat(join(path, 'oci-layout')).catch(() => null))?.isFile()) return 'layout';
  return (await stat(path).catch(() => null))?.isDirectory() ? 'root' : 'missing';
}

/** Writes an OCI image layout: blobs as they come, index.json last. */
export interface OciWriter {
  /** Whether the blob is already in the output (written earlier, or in a merged directory). */
  hasBlob(digest: string): Promise<boolean>;
  /** Streams a blob in, verifying size and digest; a mismatch fails the whole export. */
  putBlob(digest: string, size: number, body: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void>;
  /** Writes index.json (merged with an existing directory layout's) and closes. */
  finish(entries: Descriptor[]): Promise<void>;
  /** Removes what was written (a failed export leaves nothing half-made behind). */
  abort(): Promise<void>;
}

/** Hashes while passing chunks on, and checks size and digest at the end. */
async function* verified(digest: string, size: number, body: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  const d = parseDigest(digest);
  const h = createHash(d.algorithm);
  let n = 0;
  for await (const chunk of body) {
    h.update(chunk);
    n += chunk.length;
    yield chunk;
  }
  const got = `${d.algorithm}:${h.digest('hex')}`;
  if (n !== size || got !== digest) throw new Error(`blob ${digest}: read ${n} bytes with digest ${got}, expected ${size} bytes`);
}

const OCI_LAYOUT = JSON.stringify({ imageLayoutVersion: '1.0.0' });

/** A writer to a directory, or to a tar file when `path` ends in `.tar`. */
export async function createOciWriter(path: string): Promise<OciWriter> {
  return path.endsWith('.tar') ? tarWriter(path) : dirWriter(path);
}

async function dirWriter(root: string): Promise<OciWriter> {
  await mkdir(join(root, 'blobs'), { recursive: true });
  const existing = await readFile(join(root, 'index.json'), 'utf8').then((t) => (JSON.parse(t) as { manifests?: Descriptor[] }).manifests ?? [], () => null);
  const have = new Set<string>();
  const written: string[] = [];
  // A dir writer may add to an existing layout; its index.json entries are kept (merged).
  return {
    hasBlob: async (digest) => have.has(digest) || (await stat(blobPath(root, digest)).catch(() => null))?.isFile() === true,
    async putBlob(digest, size, body) {
      const dest = blobPath(root, digest);
      await mkdir(dirname(dest), { recursive: true });
      const tmp = `${dest}.partial`;
      const ws = createWriteStream(tmp);
      try {
        for await (const chunk of verified(digest, size, body)) if (!ws.write(chunk)) await once(ws, 'drain');
        ws.end();
        await once(ws, 'close');
      } catch (err) {
        ws.destroy();
        await rm(tmp, { force: true });
        throw err;
      }
      await rename(tmp, dest);
      have.add(digest);
      written.push(dest);
    },
    async finish(entries) {
      const refOf = (e: Descriptor) => e.annotations?.[REF_NAME];
      const kept = (existing ?? []).filter((e) => !entries.some((n) => (refOf(n) !== undefined ? refOf(n) === refOf(e) : n.digest === e.digest && refOf(e) === undefined)));
      await writeFile(join(root, 'oci-layout'), OCI_LAYOUT);
      await writeFile(join(root, 'index.json.tmp'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [...kept, ...entries] }));
      await rename(join(root, 'index.json.tmp'), join(root, 'index.json'));
    },
    async abort() {
      await Promise.all(written.map((p) => rm(p, { force: true })));
    },
  };
}

async function tarWriter(file: string): Promise<OciWriter> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.partial`;
  const pack = (await loadTar()).pack();
  const ws = createWriteStream(tmp);
  const done = new Promise<void>((resolve, reject) => {
    ws.on('close', resolve).on('error', reject);
    pack.on('error', reject);
  });
  done.catch(() => undefined);
  pack.pipe(ws);
  const have = new Set<string>();
  const add = (name: string, data: string) => new Promise<void>((res, rej) => pack.entry({ name, mtime: new Date(0) }, data, (e) => (e ? rej(e) : res())));
  await add('oci-layout', OCI_LAYOUT);
  return {
    hasBlob: async (digest) => have.has(digest),
    async putBlob(digest, size, body) {
      const d = parseDigest(digest);
      let entry!: ReturnType<typeof pack.entry>;
      // tar-stream calls back once the entry's bytes (and padding) are in the archive.
      const ended = new Promise<void>((res, rej) => {
        entry = pack.entry({ name: `blobs/${d.algorithm}/${d.hex}`, size, mtime: new Date(0) }, (e) => (e ? rej(e) : res()));
      });
      for await (const chunk of verified(digest, size, body)) if (!entry.write(chunk)) await once(entry, 'drain');
      // streamx's end() takes no callback (a function would be written as data).
      (entry as unknown as { end(): void }).end();
      await ended;
      have.add(digest);
    },
    async finish(entries) {
      await add('index.json', JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
      pack.finalize();
      await done;
      await rename(tmp, file);
    },
    async abort() {
      pack.destroy();
      ws.destroy();
      await rm(tmp, { force: true });
    },
  };
}
