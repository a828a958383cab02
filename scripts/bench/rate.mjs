// One request-rate measurement against a running server: picks the load generator (wrk where
// it can read the responses, the raw-socket generator for HEAD), and brackets the run with a
// /proc window for server CPU per request and peak RSS.
import { window } from './proc.mjs';
import { haveWrk, runWrk } from './wrk.mjs';
import { runLoad } from './loadgen.mjs';

const WRK = haveWrk();
let mode = 'auto';

/** `auto`: wrk for GET rows (cheapest client); `node`: the raw-socket generator for every row. */
export function setGenerator(m) {
  if (m !== 'auto' && m !== 'node') throw new Error(`--gen must be auto or node, not ${m}`);
  mode = m;
}

/** The generator used for `method`: wrk for GET (when installed, mode auto), else the node one. */
export const generatorFor = (method) => (mode === 'auto' && method === 'GET' && WRK ? 'wrk' : 'node');

export async function measureRate(ctx, server, { path, method = 'GET', headers = {}, connections, seconds }) {
  const generator = generatorFor(method);
  const opts = { url: server.origin + path, method, headers, connections, seconds, dir: ctx.dir(server.kind) };
  const w = window(server.pid);
  const r = generator === 'wrk' ? await runWrk(opts) : await runLoad(opts);
  const x = w.close();
  if (r.requests === 0) throw new Error(`${method} ${path}: no request completed`);
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${method} ${path}: ${r.non2xx} non-2xx answers, ${r.errors} socket errors`);
  return { ...r, generator, cpuUs: (x.cpu / r.requests) * 1e6, peak: x.peakRss, serverCpu: x.cpu };
}
