// Builds and runs hload.c, the bench's own C load generator (one thread, epoll, closed loop):
// as cheap per request as wrk, and it reads HEAD replies, which Debian's wrk 4.1 cannot.
// The binary goes to bench-results/.bin/ (git-ignored) and is rebuilt when hload.c changes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'hload.c');
const binary = join(here, '..', '..', 'bench-results', '.bin', 'hload');

/** Compiles hload when missing or stale; returns false (with a reason logged) when no C compiler works. */
export function buildHload(log = () => {}) {
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return true;
  mkdirSync(dirname(binary), { recursive: true });
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', binary, source], { encoding: 'utf8' });
  if (r.status === 0) return true;
  log(`bench: cannot build hload (${r.error?.message ?? r.stderr.trim()}); falling back to wrk/node generators`);
  return false;
}

/** Runs hload; resolves to { requests, seconds, rps, p50Ms, p90Ms, p99Ms, meanMs, errors, non2xx, bytes }. */
export function runHload({ url, method = 'GET', headers = {}, connections, seconds }) {
  const args = ['-c', String(connections), '-d', String(seconds), '-m', method];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('HLOAD '));
      if (code !== 0 || !line) return reject(new Error(`hload ${args.join(' ')} failed (${code}):\n${out}`));
      const j = JSON.parse(line.slice(6));
      const secs = j.duration_us / 1e6;
      resolve({
        requests: j.requests,
        seconds: secs,
        rps: j.requests / secs,
        p50Ms: j.p50_us / 1000,
        p90Ms: j.p90_us / 1000,
        p99Ms: j.p99_us / 1000,
        meanMs: j.mean_us / 1000,
        errors: j.errors,
        non2xx: j.non2xx,
        bytes: j.bytes,
      });
    });
  });
}
