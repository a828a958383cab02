// Many clients pulling one blob at once (plan.fanout.clients connections, plan.fanout.rounds
// rounds): aggregate MiB/s, server CPU per GiB and server peak RSS, the edge-cache case where a
// fleet starts the same image together.
import { window } from '../proc.mjs';
import { pool, pullBlob } from '../registry-client.mjs';
import { MiB, GiB } from '../harness.mjs';

export default {
  name: 'fanout',
  title: 'concurrent pulls of one blob',
  rows: (plan) => [
    { id: 'fanout.mibs', label: `${plan.fanout.clients} clients pull ${plan.fanout.blob / MiB} MiB at once`, unit: 'MiB/s', better: 'higher' },
    { id: 'fanout.cpu', label: '  server CPU', unit: 's/GiB', better: 'lower' },
    { id: 'fanout.peak', label: '  server peak RSS', unit: 'MiB', better: 'lower' },
  ],
  async prepare(ctx, kinds) {
    for (const kind of kinds) await ctx.blobStore(kind);
  },
  async measure(ctx, kind) {
    const { clients, rounds } = ctx.plan.fanout;
    const store = await ctx.blobStore(kind);
    const { digest, size } = store.fan;
    return ctx.withServer(kind, store.root, async (s) => {
      const p = pool(s.origin, clients);
      try {
        // Open every connection first, so the window times transfers, not handshakes.
        await p.warm();
        await pullBlob(p, 'bench/fanout', digest);
        const w = window(s.pid);
        let bytes = 0;
        for (let r = 0; r < rounds; r++) {
          const got = await Promise.all(Array.from({ length: clients }, () => pullBlob(p, 'bench/fanout', digest)));
          bytes += got.reduce((a, b) => a + b, 0);
        }
        const x = w.close();
        if (bytes !== size * clients * rounds) throw new Error(`fanout: got ${bytes} bytes`);
        return { 'fanout.mibs': bytes / MiB / x.seconds, 'fanout.cpu': x.cpu / (bytes / GiB), 'fanout.peak': x.peakRss };
      } finally {
        await p.close();
      }
    });
  },
};
