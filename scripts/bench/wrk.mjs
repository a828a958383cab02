// Request-rate load from wrk (C, event loop, one thread): the cheapest client per request we
// have, which matters when client and server share two cores. Its Lua `done` hook prints one
// JSON line with the counts and latency percentiles we keep.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function haveWrk() {
  return spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;
}

function luaScript(method, headers) {
  const lines = [`wrk.method = "${method}"`];
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers["${k}"] = "${v}"`);
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' +
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' +
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}}\\n\',',
    '    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))',
    'end',
  );
  return lines.join('\n') + '\n';
}

/**
 * Runs `wrk -t1 -c<connections> -d<seconds>` against `url`. Resolves to
 * { requests, seconds, rps, p50Ms, p90Ms, p99Ms, meanMs, errors, non2xx }.
 */
export function runWrk({ url, method = 'GET', headers = {}, connections, seconds, dir }) {
  const script = join(dir, `wrk-${method.toLowerCase()}.lua`);
  writeFileSync(script, luaScript(method, headers));
  const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--timeout', '10s', '-s', script, url];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
      if (code !== 0 || !line) return reject(new Error(`wrk ${args.join(' ')} failed (${code}):\n${out}`));
      const j = JSON.parse(line.slice(8));
      const secs = j.duration_us / 1e6;
      const errors = j.errors.connect + j.errors.read + j.errors.write + j.errors.timeout;
      resolve({
        requests: j.requests,
        seconds: secs,
        rps: j.requests / secs,
        p50Ms: j.latency_us.p50 / 1000,
        p90Ms: j.latency_us.p90 / 1000,
        p99Ms: j.latency_us.p99 / 1000,
        meanMs: j.latency_us.mean / 1000,
        errors,
        non2xx: j.errors.status,
        bytes: j.bytes,
      });
    });
  });
}
