import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Directories under `root` holding an index.json (repositories), as repo names. */
export async function repoDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    if (entries.some((e) => e.isFile() && e.name === 'index.json')) out.push(relative(root, dir));
    for (const e of entries) if (e.isDirectory() && e.name !== 'blobs' && !e.name.startsWith('.') && !e.name.startsWith('_')) await walk(join(dir, e.name));
  };
  await walk(root);
  return out.sort();
}

/**
 * Checks one repository directory is a valid OCI image layout whose every listed
 * manifest, and everything those manifests reference, is present with the right digest.
 * Returns the problems found (empty when valid).
 */
export async function checkLayout(repoDir: string): Promise<string[]> {
  const problems: string[] = [];
  const blobPath = (d: string) => join(repoDir, 'blobs', ...d.split(':'));
  const verify = async (digest: string, size?: number): Promise<Buffer | null> => {
    const data = await readFile(blobPath(digest)).catch(() => null);
    if (!data) return problems.push(`${digest}: missing`), null;
    const [alg] = digest.split(':');
    const actual = `${alg}:${createHash(alg!).update(data).digest('hex')}`;
    if (actual !== digest) problems.push(`${digest}: content hashes to ${actual}`);
    if (size !== undefined && data.length !== size) problems.push(`${digest}: size ${data.length}, descriptor says ${size}`);
    return data;
  };
  try {
    const layout = JSON.parse(await readFile(join(repoDir, 'oci-layout'), 'utf8'));
    if (layout.imageLayoutVersion !== '1.0.0') problems.push('oci-layout: wrong version');
  } catch (err) {
    problems.push(`oci-layout: ${String(err)}`);
  }
  let index: { manifests?: { digest: string; size: number; mediaType: string }[] };
  try {
    index = JSON.parse(await readFile(join(repoDir, 'index.json'), 'utf8'));
  } catch (err) {
    return [...problems, `index.json: ${String(err)}`];
  }
  const seen = new Set<string>();
  const walk = async (digest: string, size?: number) => {
    if (seen.has(digest)) return;
    seen.add(digest);
    const data = await verify(digest, size);
    if (!data) return;
    const m = JSON.parse(data.toString());
    for (const d of [m.config, ...(m.layers ?? [])].filter(Boolean)) await verify(d.digest, d.size);
    for (const d of m.manifests ?? []) await walk(d.digest, d.size);
  };
  for (const d of index.manifests ?? []) await walk(d.digest, d.size);
  return problems;
}

/** `oci-image-tool validate --type image` on a layout; null when the tool is absent. */
export async function ociImageToolValidate(repoDir: string): Promise<{ ok: boolean; output: string } | null> {
  if (!(await stat('/usr/bin/oci-image-tool').catch(() => null))) return null;
  try {
    const r = await run('oci-image-tool', ['validate', '--type', 'image', repoDir]);
    return { ok: true, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
