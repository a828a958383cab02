/**
 * `skiff import <config> <dir|file.tar> [--repo <name>] [--tmpdir <dir>]`: loads an OCI
 * image layout (a directory, a tar of one, or skopeo's `oci-archive:`) into the registry
 * with the server stopped. Where each image goes:
 *
 * - a ref name `<repo>:<tag>` (what `skiff export` writes) names both repository and tag;
 * - with `--repo <name>` every image goes to that repository, tagged with its ref name
 *   (or the part after the last colon of a `<repo>:<tag>` ref name);
 * - an entry without a ref name is a referrer (signature, SBOM): it goes to every
 *   repository its subject was imported into (or to `--repo`).
 *
 * Every blob is verified against its digest on the way in (storage refuses a mismatch),
 * manifests are stored byte for byte, and blobs already held are not copied again.
 */
import { MANIFEST_KINDS, validateName, type Descriptor } from '../oci/index.ts';
import { openOciDir, type OciDir, type Storage } from '../storage/index.ts';
import { childrenOf, mib, parseRef, REF_NAME } from './image-graph.ts';
import { openOffline, UsageError } from './offline.ts';
import { ProgressBar } from './progress.ts';

const USAGE = 'usage: skiff import <config> <dir|file.tar> [--repo <name>] [--tmpdir <dir>]';

/** One image to store: where, under which reference. */
interface Target {
  entry: Descriptor;
  repo: string;
  tag?: string;
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('-')) throw new UsageError(`${name} needs a value\n${USAGE}`);
  args.splice(i, 2);
  return v;
}

/** Decides the repository and tag of every index.json entry (see the module comment). */
async function targets(dir: OciDir, forced: string | undefined): Promise<Target[]> {
  const out: Target[] = [];
  const untagged: Descriptor[] = [];
  for (const entry of await dir.entries()) {
    if (!MANIFEST_KINDS[entry.mediaType]) continue;
    const ref = entry.annotations?.[REF_NAME];
    if (ref === undefined) {
      untagged.push(entry);
      continue;
    }
    const parsed = /^(.+):([^:/]+)$/.test(ref) ? parseRef(ref) : undefined;
    if (forced) out.push({ entry, repo: forced, tag: parsed?.tag ?? ref });
    else if (parsed?.tag) out.push({ entry, repo: parsed.repo, tag: parsed.tag });
    else throw new UsageError(`skiff import: entry ${entry.digest} is named "${ref}", without a repository; pass --repo <name>`);
  }
  // Referrers follow their subjects (an SBOM of an index child, too).
  const holders = new Map<string, Set<string>>();
  const hold = async (digest: string, repo: string, depth = 0): Promise<void> => {
    (holders.get(digest) ?? holders.set(digest, new Set()).get(digest)!).add(repo);
    const body = depth < 3 ? await dir.readBlob(digest) : null;
    if (body) for (const c of childrenOf(body).manifests) await hold(c.digest, repo, depth + 1);
  };
  for (const t of out) await hold(t.entry.digest, t.repo);
  for (let pass = 0, pending = untagged; pass < 4 && pending.length > 0; pass++) {
    const later: Descriptor[] = [];
    for (const entry of pending) {
      const body = await dir.readBlob(entry.digest);
      const subject = body ? childrenOf(body).subject?.digest : undefined;
      const repos = forced ? [forced] : [...(holders.get(subject ?? '') ?? [])];
      if (repos.length === 0) later.push(entry);
      for (const repo of repos) {
        out.push({ entry, repo });
        (holders.get(entry.digest) ?? holders.set(entry.digest, new Set()).get(entry.digest)!).add(repo);
      }
    }
    pending = later;
    if (pass === 3) for (const e of later) process.stderr.write(`skiff import: skipping untagged ${e.digest}: its subject is not in this layout\n`);
  }
  return out;
}

/** Bytes the plan moves: every blob once per repository (for the progress bar). */
async function planBytes(dir: OciDir, plan: Target[]): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (repo: string, digest: string): Promise<void> => {
    const body = await dir.readBlob(digest);
    if (!body) return;
    const c = childrenOf(body);
    for (const b of c.blobs) if (!seen.has(`${repo}@${b.digest}`) && seen.add(`${repo}@${b.digest}`)) total += b.size;
    for (const m of c.manifests) await walk(repo, m.digest);
  };
  for (const t of plan) await walk(t.repo, t.entry.digest);
  return total;
}

/** Stores one manifest and everything below it, reporting blob bytes as they are done. */
async function load(storage: Storage, dir: OciDir, repo: string, digest: string, reference: string, onBytes: (n: number) => void): Promise<void> {
  const body = await dir.readBlob(digest);
  if (!body) throw new UsageError(`skiff import: manifest ${digest} is missing from the layout`);
  const c = childrenOf(body);
  for (const child of c.manifests) {
    if (!storage.manifests.get(repo, child.digest)) await load(storage, dir, repo, child.digest, child.digest, onBytes);
  }
  for (const b of c.blobs) {
    if (await storage.blobs.stat(repo, b.digest)) {
      onBytes(b.size);
      continue;
    }
    const blob = await dir.openBlob(b.digest);
    if (!blob) throw new UsageError(`skiff import: blob ${b.digest} is missing from the layout`);
    await storage.uploads.monolithic(repo, b.digest, blob.stream, b.size);
    onBytes(b.size);
  }
  const mediaType = (JSON.parse(body.toString('utf8')) as { mediaType?: string }).mediaType;
  await storage.manifests.put(repo, reference, body, mediaType ?? (c.manifests.length > 0 ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json'));
}

export async function importCommand(argv: string[]): Promise<number> {
  const args = [...argv];
  const forced = option(args, '--repo');
  const tmpDir = option(args, '--tmpdir');
  const positional = args.filter((a) => !a.startsWith('-'));
  if (positional.length !== 2) throw new UsageError(USAGE);
  if (forced) validateName(forced);
  const [config, source] = positional as [string, string];
  const { storage, log } = await openOffline([config], 'import');
  let dir: OciDir | undefined;
  try {
    dir = await openOciDir(source, tmpDir ? { tmpDir } : {}).catch((err: Error) => {
      throw new UsageError(`skiff import: ${err.message}`);
    });
    const plan = await targets(dir, forced);
    const total = await planBytes(dir, plan);
    const bar = new ProgressBar('import', 'MiB');
    let bytes = 0;
    const progress = (i: number) => bar.update(Math.floor(bytes / 1048576), Math.ceil(total / 1048576), `(${i}/${plan.length} images)`);
    for (const [i, t] of plan.entries()) {
      await load(storage, dir, t.repo, t.entry.digest, t.tag ?? t.entry.digest, (n) => {
        bytes += n;
        progress(i);
      });
      progress(i + 1);
      log.info({ repo: t.repo, tag: t.tag, digest: t.entry.digest, done: i + 1, of: plan.length }, 'image imported');
    }
    const repos = new Set(plan.map((t) => t.repo));
    process.stdout.write(`imported ${plan.length} images and referrers into ${repos.size} repositories (${mib(bytes)}) from ${source}\n`);
    return 0;
  } finally {
    await dir?.close();
    await storage.close();
  }
}
