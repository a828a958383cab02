// Pull one large blob (GET on one keep-alive connection, body counted and dropped by the
// client): MiB/s, server CPU per GiB, server peak RSS. The blob was pushed during seeding, so it
// is in the page cache.
//
// The client: hload (the bench's C generator) pulls the blob again and again for
// `plan.pullSeconds`, reading into one 64 KiB buffer. The node raw-socket client costs more CPU
// per GiB than either server here, and on 2 shared cores it, not the server, set the figure:
// both servers came out at 2.0-2.3 GiB/s whatever their own CPU per GiB. Without hload (no C
// compiler) the node client pulls the blob `plan.pullRounds` times.
import { window } from '../proc.mjs';
import { pool, pullBlob } from '../registry-client.mjs';
import { generatorFor } from '../rate.mjs';
import { runHload } from '../hload.mjs';
import { MiB, GiB } from '../harness.mjs';

export default {
  name: 'pull',
  title: 'blob pull',
  rows: (plan) => [
    { id: 'pull.mibs', label: `pull ${plan.bigBlob / MiB} MiB, again and again (${generatorFor('GET') === 'hload' ? 'hload' : 'node'})`, unit: 'MiB/s', better: 'higher' },
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
        const path = `/v2/bench/pull/blobs/${store.big.digest}`;
        const w = window(s.pid);
        let n = 0;
        if (generatorFor('GET') === 'hload') {
          const r = await runHload({ url: `${s.origin}${path}`, connections: 1, seconds: ctx.plan.pullSeconds });
          if (r.errors > 0 || r.non2xx > 0 || r.requests < 1) throw new Error(`pull: hload saw ${r.errors} errors, ${r.non2xx} non-2xx, ${r.requests} complete pulls`);
          n = r.bytes;
        } else {
          for (let i = 0; i < ctx.plan.pullRounds; i++) {
            const got = await pullBlob(p, 'bench/pull', store.big.digest);
            if (got !== store.big.size) throw new Error(`pull: got ${got} bytes, expected ${store.big.size}`);
            n += got;
          }
        }
        const x = w.close();
        return { 'pull.mibs': n / MiB / x.seconds, 'pull.cpu': x.cpu / (n / GiB), 'pull.peak': x.peakRss };
      } finally {
        await p.close();
      }
    });
  },
};
