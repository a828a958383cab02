// Manifest HEAD and GET of one ~1 KiB OCI manifest (by tag) in the manifest store, at each
// concurrency: requests/s, p50/p99 latency, server CPU µs per request, and the phase's peak RSS.
import { resetPeak, peakMiB } from '../proc.mjs';
import { measureRate, generatorFor } from '../rate.mjs';
import { HOT, OCI_MANIFEST } from '../seed.mjs';

const METHODS = ['HEAD', 'GET'];

export default {
  name: 'manifest',
  title: 'manifest HEAD/GET',
  rows(plan) {
    const rows = [];
    for (const m of METHODS) {
      for (const c of plan.concurrencies) {
        const id = `manifest.${m.toLowerCase()}.c${c}`;
        rows.push(
          { id: `${id}.rps`, label: `manifest ${m} c${c} (${generatorFor(m)})`, unit: 'req/s', better: 'higher' },
          { id: `${id}.p50`, label: '  p50 latency', unit: 'ms', better: 'lower' },
          { id: `${id}.p99`, label: '  p99 latency', unit: 'ms', better: 'lower' },
          { id: `${id}.cpu`, label: '  server CPU', unit: 'µs/req', better: 'lower' },
        );
      }
    }
    rows.push({ id: 'manifest.peak', label: 'manifest phase: server peak RSS', unit: 'MiB', better: 'lower' });
    return rows;
  },
  async prepare(ctx, kinds) {
    for (const kind of kinds) await ctx.manifestStore(kind);
  },
  async measure(ctx, kind) {
    const { plan } = ctx;
    const store = await ctx.manifestStore(kind);
    const path = `/v2/${HOT.repo}/manifests/${HOT.ref}`;
    const headers = { Accept: OCI_MANIFEST };
    return ctx.withServer(kind, store.root, async (s) => {
      const out = {};
      resetPeak(s.pid);
      for (const method of METHODS) await measureRate(ctx, s, { path, method, headers, connections: 16, seconds: plan.warmSeconds });
      for (const method of METHODS) {
        for (const c of plan.concurrencies) {
          const r = await measureRate(ctx, s, { path, method, headers, connections: c, seconds: plan.rateSeconds });
          const id = `manifest.${method.toLowerCase()}.c${c}`;
          Object.assign(out, {
            [`${id}.rps`]: r.rps,
            [`${id}.p50`]: r.p50Ms,
            [`${id}.p99`]: r.p99Ms,
            [`${id}.cpu`]: r.cpuUs,
            [`${id}.requests`]: r.requests,
          });
        }
      }
      out['manifest.peak'] = peakMiB(s.pid);
      return out;
    });
  },
};
