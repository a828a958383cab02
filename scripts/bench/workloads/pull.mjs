// Pull one large blob (GET, body counted and dropped by the client): MiB/s, server CPU per GiB,
// server peak RSS. The blob was pushed during seeding, so it is in the page cache.
import { window } from '../proc.mjs';
import { pool, pullBlob } from '../registry-client.mjs';
import { MiB, GiB } from '../harness.mjs';

export default {
  name: 'pull',
  title: 'blob pull',
  rows: (plan) => [
    { id: 'pull.mibs', label: `pull ${plan.bigBlob / MiB} MiB`, unit: 'MiB/s', better: 'higher' },
    { id: 'pull.cpu', label: '  server CPU', unit: 's/GiB', better: 'lower' },
    { id: 'pull.peak', label: '  server peak RSS', unit: 'MiB', better: 'lower' },
  ],
  async prepare(ctx, kinds) {
    for (const kind of kinds) await ctx.blobStore(kind);
  },
  async measure(ctx, kind) {
    const store = await ctx.blobStore(kind);
    return ctx.withServer(kind, store.root, async (s) => {
      const p = pool(s.origin, 1);
      try {
        await pullBlob(p, 'bench/fanout', store.fan.digest);
        const w = window(s.pid);
        const n = await pullBlob(p, 'bench/pull', store.big.digest);
        const x = w.close();
        if (n !== store.big.size) throw new Error(`pull: got ${n} bytes, expected ${store.big.size}`);
        return { 'pull.mibs': n / MiB / x.seconds, 'pull.cpu': x.cpu / (n / GiB), 'pull.peak': x.peakRss };
      } finally {
        await p.close();
      }
    });
  },
};
