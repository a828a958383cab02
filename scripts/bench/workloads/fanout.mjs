// Many clients pulling one blob at once (plan.fanout.clients connections): aggregate MiB/s,
// server CPU per GiB and server peak RSS, the edge-cache case where a fleet starts the same
// image together.
//
// The client: hload (the bench's C generator) keeps every connection pulling the blob again
// and again for `plan.fanout.seconds`, reading into one 64 KiB buffer: a 3 s window, where the
// node raw-socket client's rounds of simultaneous pulls last 0.2-0.3 s each and moved a lot
// from round to round. Those rounds are kept as the second row, for comparison with earlier
// runs (and they are what the row measures without hload).
import { window } from '../proc.mjs';
import { pool, pullBlob } from '../registry-client.mjs';
import { generatorFor } from '../rate.mjs';
import { runHload } from '../hload.mjs';
import { MiB, GiB } from '../harness.mjs';

const withHload = () => generatorFor('GET') === 'hload';

export default {
  name: 'fanout',
  title: 'concurrent pulls of one blob',
  rows: (plan) => [
    { id: 'fanout.mibs', label: `${plan.fanout.clients} clients pull ${plan.fanout.blob / MiB} MiB at once (${withHload() ? 'hload' : 'node'})`, unit: 'MiB/s', better: 'higher' },
    { id: 'fanout.cpu', label: '  server CPU', unit: 's/GiB', better: 'lower' },
    { id: 'fanout.peak', label: '  server peak RSS', unit: 'MiB', better: 'lower' },
    ...(withHload()
      ? [
          { id: 'fanout.node.mibs', label: `  the same, ${plan.fanout.rounds} rounds (node client)`, unit: 'MiB/s', better: 'higher' },
          { id: 'fanout.node.peak', label: '    server peak RSS', unit: 'MiB', better: 'lower' },
        ]
      : []),
  ],
  async prepare(ctx, kinds) {
    for (const kind of kinds) await ctx.blobStore(kind);
  },
  async measure(ctx, kind) {
    const { clients, rounds, seconds } = ctx.plan.fanout;
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
        const byNode = { mibs: bytes / MiB / x.seconds, cpu: x.cpu / (bytes / GiB), peak: x.peakRss };
        if (!withHload()) return { 'fanout.mibs': byNode.mibs, 'fanout.cpu': byNode.cpu, 'fanout.peak': byNode.peak };
        const h = window(s.pid);
        const r = await runHload({ url: `${s.origin}/v2/bench/fanout/blobs/${digest}`, connections: clients, seconds });
        const y = h.close();
        if (r.errors > 0 || r.non2xx > 0 || r.requests < clients) throw new Error(`fanout: hload saw ${r.errors} errors, ${r.non2xx} non-2xx, ${r.requests} complete pulls`);
        return {
          'fanout.mibs': r.bytes / MiB / y.seconds,
          'fanout.cpu': y.cpu / (r.bytes / GiB),
          'fanout.peak': y.peakRss,
          'fanout.node.mibs': byNode.mibs,
          'fanout.node.peak': byNode.peak,
        };
      } finally {
        await p.close();
      }
    });
  },
};
