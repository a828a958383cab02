// Mixed traffic as zb runs it: per blob size, a fixed number of operations at plan.mixed
// concurrency, 75% pulls of seeded blobs and 25% pushes of new ones (POST+PUT). The op
// sequence comes from a seeded PRNG, so both servers get exactly the same one.
import { window } from '../proc.mjs';
import { pool, pullBlob, pushMonolithic, parallel } from '../registry-client.mjs';
import { MiB } from '../harness.mjs';

const mb = (size) => `${size / 1e6} MB`;

/** mulberry32: a tiny deterministic PRNG. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export default {
  name: 'mixed',
  title: 'mixed pulls and pushes',
  rows(plan) {
    const { concurrency, pullFraction } = plan.mixed;
    const rows = [];
    for (const [size, ops] of plan.mixed.sizes) {
      const id = `mixed.${size / 1e6}mb`;
      rows.push(
        {
          id: `${id}.ops`,
          label: `mixed ${Math.round(pullFraction * 100)}/${Math.round((1 - pullFraction) * 100)} pull/push ${mb(size)}, ${ops} ops c${concurrency}`,
          unit: 'ops/s',
          better: 'higher',
        },
        { id: `${id}.mibs`, label: '  throughput (both ways)', unit: 'MiB/s', better: 'higher' },
        { id: `${id}.peak`, label: '  server peak RSS', unit: 'MiB', better: 'lower' },
      );
    }
    return rows;
  },
  async prepare(ctx, kinds) {
    for (const kind of kinds) await ctx.blobStore(kind);
  },
  async measure(ctx, kind) {
    const { concurrency, pullFraction, sizes } = ctx.plan.mixed;
    const store = await ctx.blobStore(kind);
    return ctx.withServer(kind, store.root, async (s) => {
      const p = pool(s.origin, concurrency);
      const out = {};
      try {
        for (let i = 0; i < sizes.length; i++) {
          const [size, count] = sizes[i];
          const seeded = store.mixed[i];
          const src = ctx.source(size);
          const rand = prng(1000 + i);
          const ops = Array.from({ length: count }, () => (rand() < pullFraction ? seeded[Math.floor(rand() * seeded.length)] : null));
          // Digests of the pushes are worked out before the clock starts.
          const pushes = ops.map((op) => (op === null ? src.next() : null));
          const w = window(s.pid);
          let bytes = 0;
          await parallel(count, concurrency, async (k) => {
            if (ops[k]) {
              // Not `bytes += await ...`: that reads `bytes` before the await and loses the
              // other operations' additions made meanwhile (it under-counted by up to 8x).
              const got = await pullBlob(p, 'bench/mixed', ops[k].digest);
              bytes += got;
            } else {
              await pushMonolithic(p, 'bench/mixed', pushes[k]);
              bytes += size;
            }
          });
          const x = w.close();
          const id = `mixed.${size / 1e6}mb`;
          Object.assign(out, { [`${id}.ops`]: count / x.seconds, [`${id}.mibs`]: bytes / MiB / x.seconds, [`${id}.peak`]: x.peakRss });
        }
        return out;
      } finally {
        await p.close();
      }
    });
  },
};
