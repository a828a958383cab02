// Push one large blob into an empty store: monolithic (POST, then PUT ?digest= with the whole
// body) and chunked (PATCH plan.chunk pieces with Content-Range, then PUT). Client-side MiB/s,
// server CPU seconds per GiB, server peak RSS.
import { window } from '../proc.mjs';
import { pool, pushMonolithic, pushChunked } from '../registry-client.mjs';
import { MiB, GiB } from '../harness.mjs';

async function timed(pid, size, fn) {
  const w = window(pid);
  await fn();
  const x = w.close();
  return { mibs: size / MiB / x.seconds, cpu: x.cpu / (size / GiB), peak: x.peakRss };
}

export default {
  name: 'push',
  title: 'blob push',
  rows: (plan) => {
    const size = `${plan.bigBlob / MiB} MiB`;
    const chunk = `${plan.chunk / MiB} MiB`;
    return [
      { id: 'push.mono.mibs', label: `push ${size} monolithic (POST+PUT)`, unit: 'MiB/s', better: 'higher' },
      { id: 'push.mono.cpu', label: '  server CPU', unit: 's/GiB', better: 'lower' },
      { id: 'push.mono.peak', label: '  server peak RSS', unit: 'MiB', better: 'lower' },
      { id: 'push.chunked.mibs', label: `push ${size} chunked (${chunk} PATCH)`, unit: 'MiB/s', better: 'higher' },
      { id: 'push.chunked.cpu', label: '  server CPU', unit: 's/GiB', better: 'lower' },
      { id: 'push.chunked.peak', label: '  server peak RSS', unit: 'MiB', better: 'lower' },
    ];
  },
  async measure(ctx, kind) {
    const { plan } = ctx;
    const root = ctx.freshRoot(kind, 'push');
    const src = ctx.source(plan.bigBlob);
    const warm = ctx.source(plan.fanout.blob);
    try {
      return await ctx.withServer(kind, root, async (s) => {
        const p = pool(s.origin, 1);
        try {
          await pushMonolithic(p, 'bench/warm', warm.next());
          await pushChunked(p, 'bench/warm', warm.next(), Math.ceil(plan.fanout.blob / 3));
          const mono = await timed(s.pid, plan.bigBlob, () => pushMonolithic(p, 'bench/push', src.next()));
          const chunked = await timed(s.pid, plan.bigBlob, () => pushChunked(p, 'bench/push', src.next(), plan.chunk));
          return {
            'push.mono.mibs': mono.mibs,
            'push.mono.cpu': mono.cpu,
            'push.mono.peak': mono.peak,
            'push.chunked.mibs': chunked.mibs,
            'push.chunked.cpu': chunked.cpu,
            'push.chunked.peak': chunked.peak,
          };
        } finally {
          await p.close();
        }
      });
    } finally {
      ctx.removeRoot(root);
    }
  },
};
