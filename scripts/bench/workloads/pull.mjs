// Pull one large blob (GET, body counted and dropped by the client), `plan.pullRounds` times back
// to back on one connection: MiB/s over them all, server CPU per GiB, server peak RSS. The blob
// was pushed during seeding, so it is in the page cache.
import { window } from '../proc.mjs';
import { pool, pullBlob } from '../registry-client.mjs';
import { MiB, GiB } from '../harness.mjs';

export default {
  name: 'pull',
  title: 'blob pull',
  rows: (plan) => [
    { id: 'pull.mibs', label: `pull ${plan.bigBlob / MiB} MiB${(plan.pullRounds ?? 1) > 1 ? `, ${plan.pullRounds} in a row` : ''}`, unit: 'MiB/s', better: 'higher' },
    { id: 'pull.cpu', label: '  server CPU', unit: 's/GiB', better: 'lower' },
    { id: 'pull.peak', label: '  server peak RSS', unit: 'MiB', better: 'lower' },
  ],
  async prepare(ctx, kinds) {
    for (const kind of kinds) await ctx.blobStore(kind);
  },
  async measure(ctx, kind) {
    const rounds = ctx.plan.pullRounds ?? 1;
    const store = await ctx.blobStore(kind);
    return ctx.withServer(kind, store.root, async (s) => {
      const p = pool(s.origin, 1);
      try {
        await pullBlob(p, 'bench/fanout', store.fan.digest);
        const w = window(s.pid);
        let n = 0;
        for (let i = 0; i < rounds; i++) {
          const got = await pullBlob(p, 'bench/pull', store.big.digest);
          if (got !== store.big.size) throw new Error(`pull: got ${got} bytes, expected ${store.big.size}`);
          n += got;
        }
        const x = w.close();
        return { 'pull.mibs': n / MiB / x.seconds, 'pull.cpu': x.cpu / (n / GiB), 'pull.peak': x.peakRss };
      } finally {
        await p.close();
      }
    });
  },
};
