// One request-rate measurement against a running server: picks the load generator and brackets
// the run with a /proc window for server CPU per request and peak RSS.
//   auto (default): hload (our C generator) for every row when it builds, else as `wrk`
//   wrk:  wrk -t1 for GET rows, the node raw-socket generator for HEAD (wrk 4.1 cannot do HEAD)
//   node: the node raw-socket generator for every row
import { window } from './proc.mjs';
import { haveWrk, runWrk } from './wrk.mjs';
import { runLoad } from './loadgen.mjs';
import { buildHload, runHload } from './hload.mjs';

let mode = 'auto';
let hload = null;
let wrk = null;

/** Sets the generator mode (see above); `log` reports a fallback. */
export function setGenerator(m, log) {
  if (!['auto', 'wrk', 'node'].includes(m)) throw new Error(`--gen must be auto, wrk or node, not ${m}`);
  mode = m;
  hload = mode === 'auto' ? buildHload(log) : false;
  wrk = haveWrk();
}

/** The generator used for `method` rows. */
export function generatorFor(method) {
  if (hload === null) setGenerator(mode);
  if (mode === 'auto' && hload) return 'hload';
  if (mode !== 'node' && method === 'GET' && wrk) return 'wrk';
  return 'node';
}

const RUNNERS = { hload: runHload, wrk: runWrk, node: runLoad };

export async function measureRate(ctx, server, { path, method = 'GET', headers = {}, connections, seconds }) {
  const generator = generatorFor(method);
  const opts = { url: server.origin + path, method, headers, connections, seconds, dir: ctx.dir(server.kind) };
  const w = window(server.pid);
  const r = await RUNNERS[generator](opts);
  const x = w.close();
  if (r.requests === 0) throw new Error(`${method} ${path}: no request completed`);
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${method} ${path}: ${r.non2xx} non-2xx answers, ${r.errors} socket errors`);
  return { ...r, generator, cpuUs: (x.cpu / r.requests) * 1e6, peak: x.peakRss, serverCpu: x.cpu };
}
