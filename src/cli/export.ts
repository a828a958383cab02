/**
 * `skiff export <config> <repo[:tag]|repo@digest>... <dir|file.tar>`: writes images, with
 * their referrers (signatures, SBOMs, recursively) and cosign tags, into one OCI image
 * layout (or a tar of one) for carrying across an air gap. Tags are written as ref names of
 * the form `<repo>:<tag>`, so one layout holds many repositories and `skiff import` (or a
 * sync upstream `file:///…`) puts each image back under its name. Every blob is verified
 * against its digest as it is written. Runs with the server stopped.
 */
import { type Descriptor } from '../oci/index.ts';
import { createOciWriter, type Storage } from '../storage/index.ts';
import { childrenOf, mib, parseRef, REF_NAME } from './image-graph.ts';
import { openOffline, UsageError } from './offline.ts';
import { ProgressBar } from './progress.ts';

const USAGE = 'usage: skiff export <config> <repo[:tag]|repo@digest>... <dir|file.tar>';

interface Plan {
  /** index.json entries: tagged images, then untagged referrers. */
  entries: Descriptor[];
  /** Every blob and manifest to write, with the repository to read it from. */
  items: Map<string, { repo: string; size: number; body?: Buffer }>;
}

/** Adds a manifest, everything below it and its referrers to the plan. */
function walk(storage: Storage, repo: string, digest: string, plan: Plan, depth = 0): Descriptor {
  const m = storage.manifests.get(repo, digest);
  if (!m) throw new UsageError(`skiff export: ${repo}@${digest} is missing (run skiff scrub)`);
  const desc: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
  if (plan.items.has(m.digest)) return desc;
  plan.items.set(m.digest, { repo, size: m.size, body: m.body });
  const c = childrenOf(m.body);
  for (const b of c.blobs) if (!plan.items.has(b.digest)) plan.items.set(b.digest, { repo, size: b.size });
  for (const child of c.manifests) walk(storage, repo, child.digest, plan, depth);
  if (depth < 4) {
    for (const r of storage.catalog.referrers(repo, m.digest)) {
      if (plan.items.has(r.digest)) continue;
      walk(storage, repo, r.digest, plan, depth + 1);
      plan.entries.push(r);
    }
    // Pre-referrers cosign signatures, SBOMs and attestations live under tags named after the digest.
    for (const suffix of ['sig', 'sbom', 'att']) {
      const tag = `${m.digest.replace(':', '-')}.${suffix}`;
      const companion = storage.manifests.get(repo, tag);
      if (!companion) continue;
      const d = walk(storage, repo, companion.digest, plan, depth + 1);
      plan.entries.push({ ...d, annotations: { [REF_NAME]: `${repo}:${tag}` } });
    }
  }
  return desc;
}

/** Every tag of a repository, across pages. */
function allTags(storage: Storage, repo: string): string[] {
  const out: string[] = [];
  let last: string | undefined;
  for (;;) {
    const page = storage.catalog.tags(repo, 1000, last);
    out.push(...page.items);
    if (!page.more || page.items.length === 0) return out;
    last = page.items[page.items.length - 1];
  }
}

export async function exportCommand(args: string[]): Promise<number> {
  const positional = args.filter((a) => !a.startsWith('-'));
  if (positional.length < 3) throw new UsageError(USAGE);
  const [config, ...rest] = positional;
  const out = rest.pop()!;
  const { storage, log } = await openOffline([config!], 'export');
  try {
    const plan: Plan = { entries: [], items: new Map() };
    for (const arg of rest) {
      const ref = parseRef(arg);
      if (!storage.catalog.hasRepo(ref.repo)) throw new UsageError(`skiff export: no repository ${ref.repo}`);
      const refs = ref.digest ? [ref.digest] : ref.tag ? [ref.tag] : allTags(storage, ref.repo);
      for (const r of refs) {
        const m = storage.manifests.get(ref.repo, r);
        if (!m) throw new UsageError(`skiff export: ${ref.repo}:${r} not found`);
        const desc = walk(storage, ref.repo, m.digest, plan);
        plan.entries.push(ref.digest ? desc : { ...desc, annotations: { [REF_NAME]: `${ref.repo}:${r}` } });
      }
    }
    const total = [...plan.items.values()].reduce((n, i) => n + i.size, 0);
    const bar = new ProgressBar('export', 'blobs');
    const writer = await createOciWriter(out);
    let done = 0;
    let bytes = 0;
    try {
      for (const [digest, item] of plan.items) {
        if (!(await writer.hasBlob(digest))) {
          const body = item.body ? [item.body] : (await storage.blobs.open(item.repo, digest))?.stream;
          if (!body) throw new UsageError(`skiff export: blob ${digest} of ${item.repo} is missing (run skiff scrub)`);
          await writer.putBlob(digest, item.size, body);
        }
        bytes += item.size;
        bar.update(++done, plan.items.size, `${mib(bytes)} of ${mib(total)}`);
        if (done % 100 === 0) log.info({ done, of: plan.items.size, bytes }, 'export progress');
      }
      const seen = new Set<string>();
      const entries = plan.entries.filter((e) => {
        const key = e.annotations?.[REF_NAME] ?? e.digest;
        return !seen.has(key) && (seen.add(key), true);
      });
      await writer.finish(entries);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    process.stdout.write(`exported ${plan.entries.length} images and referrers (${plan.items.size} blobs, ${mib(total)}) to ${out}\n`);
    return 0;
  } finally {
    await storage.close();
  }
}
