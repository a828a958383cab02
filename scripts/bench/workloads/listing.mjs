// Catalog (one page of plan.catalogN from 1,001 repositories) and the tag list of a repository
// with plan.store.tagRepoTags tags, at plan.listConcurrency: requests/s, latency, server CPU.
import { resetPeak, peakMiB } from '../proc.mjs';
import { measureRate, generatorFor } from '../rate.mjs';
import { TAG_REPO } from '../seed.mjs';

export default {
  name: 'listing',
  title: 'catalog and tag list',
  rows(plan) {
    const c = plan.listConcurrency;
    const repos = plan.store.repos + 1;
    const rows = [];
    for (const [id, label] of [
      ['catalog', `catalog ?n=${plan.catalogN} of ${repos} repos c${c} (${generatorFor('GET')})`],
      ['tags', `tag list, ${plan.store.tagRepoTags} tags c${c} (${generatorFor('GET')})`],
    ]) {
      rows.push(
        { id: `${id}.rps`, label, unit: 'req/s', better: 'higher' },
        { id: `${id}.p50`, label: '  p50 latency', unit: 'ms', better: 'lower' },
        { id: `${id}.p99`, label: '  p99 latency', unit: 'ms', better: 'lower' },
        { id: `${id}.cpu`, label: '  server CPU', unit: 'µs/req', better: 'lower' },
      );
    }
    rows.push({ id: 'listing.peak', label: 'listing phase: server peak RSS', unit: 'MiB', better: 'lower' });
    return rows;
  },
  async prepare(ctx, kinds) {
    for (const kind of kinds) await ctx.manifestStore(kind);
  },
  async measure(ctx, kind) {
    const { plan } = ctx;
    const store = await ctx.manifestStore(kind);
    const targets = [
      ['catalog', `/v2/_catalog?n=${plan.catalogN}`],
      ['tags', `/v2/${TAG_REPO}/tags/list`],
    ];
    return ctx.withServer(kind, store.root, async (s) => {
      const out = {};
      const connections = plan.listConcurrency;
      resetPeak(s.pid);
      for (const [, path] of targets) await measureRate(ctx, s, { path, connections, seconds: plan.warmSeconds });
      for (const [id, path] of targets) {
        const r = await measureRate(ctx, s, { path, connections, seconds: plan.rateSeconds });
        Object.assign(out, {
          [`${id}.rps`]: r.rps,
          [`${id}.p50`]: r.p50Ms,
          [`${id}.p99`]: r.p99Ms,
          [`${id}.cpu`]: r.cpuUs,
          // Not in the table: lets a reader check both servers sent the same page.
          [`${id}.requests`]: r.requests,
          [`${id}.bytes`]: r.bytes,
        });
      }
      out['listing.peak'] = peakMiB(s.pid);
      return out;
    });
  },
};
