// Cold start: process start to the first 200 on /v2/, on an empty root and on the manifest
// store; then idle RSS once the server has settled, and the private (anonymous) part of it. The
// store's files are in the page cache (seeded moments before), so this times the process, not
// the disk.
import { rssMiB, anonMiB, noteSpan } from '../proc.mjs';
import { sleep } from '../harness.mjs';

const count = (plan) => (plan.store.repos * plan.store.tagsPerRepo + plan.store.tagRepoTags).toLocaleString('en-US');

export default {
  name: 'cold-start',
  title: 'cold start and idle memory',
  rows: (plan) => [
    { id: 'cold.empty', label: 'cold start, empty store', unit: 'ms', better: 'lower' },
    { id: 'cold.store', label: `cold start, ${count(plan)} manifests`, unit: 'ms', better: 'lower' },
    { id: 'idle.empty', label: `idle RSS (+${plan.idleMs} ms), empty store`, unit: 'MiB', better: 'lower' },
    { id: 'idle.store', label: `idle RSS (+${plan.idleMs} ms), ${count(plan)} manifests`, unit: 'MiB', better: 'lower' },
    { id: 'idle.empty.anon', label: '  private (RssAnon), empty store', unit: 'MiB', better: 'lower' },
    { id: 'idle.store.anon', label: `  private (RssAnon), ${count(plan)} manifests`, unit: 'MiB', better: 'lower' },
  ],
  async prepare(ctx, kinds) {
    for (const kind of kinds) await ctx.manifestStore(kind);
  },
  async measure(ctx, kind) {
    // Read once the server has settled (plan.idleMs). Start-up grows V8's young generation
    // (the reconcile of a 10,000-manifest store doubles it); skiff gives it back once the
    // reconcile is done (within 2 s of start since commit c42f59b), where V8's own memory
    // reducer took 8 to more than 15 s. distribution settles at once.
    const settle = async (s) => {
      noteSpan(s.pid, s.startSpan, 'start');
      await sleep(ctx.plan.idleMs);
      return { startMs: s.startMs, rss: rssMiB(s.pid), anon: anonMiB(s.pid) };
    };
    const root = ctx.freshRoot(kind, 'empty');
    const empty = await ctx.withServer(kind, root, settle);
    ctx.removeRoot(root);
    const store = await ctx.withServer(kind, (await ctx.manifestStore(kind)).root, settle);
    return {
      'cold.empty': empty.startMs,
      'cold.store': store.startMs,
      'idle.empty': empty.rss,
      'idle.store': store.rss,
      'idle.empty.anon': empty.anon,
      'idle.store.anon': store.anon,
    };
  },
};
