#!/usr/bin/env node
// Storage-lifecycle benchmark (issue: GC, startup): builds a store of 10,000 manifests /
// 10,000 blobs as plain OCI layouts on disk, then measures with the built bundle:
//   - startup to /readyz with a fresh index (first start: index built from disk) and with a
//     current index (every later start);
//   - GC sweep time over that store, and manifest GET p50/p99 at concurrency 16 while sweeps
//     run back to back versus with GC off.
// Usage: node scripts/bench/lifecycle-bench.mjs [--repos 100] [--per-repo 100] [--seconds 8]
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile, utimes } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const REPOS = arg('repos', 100);
const PER_REPO = arg('per-repo', 100);
const SECONDS = arg('seconds', 8);

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function seed(root) {
  const old = new Date(Date.now() - 3 * 3600_000);
  for (let r = 0; r < REPOS; r++) {
    const dir = join(root, 'bench', `repo${r}`);
    await mkdir(join(dir, 'blobs/sha256'), { recursive: true });
    const put = async (data) => {
      const d = sha(data);
      const p = join(dir, 'blobs/sha256', d.slice(7));
      await writeFile(p, data);
      return d;
    };
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, r }));
    const cfgDigest = await put(config);
    const manifests = [];
    for (let i = 0; i < PER_REPO; i++) {
      const layer = randomBytes(256);
      const layerDigest = await put(layer);
      const m = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfgDigest, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
      }));
      const md = await put(m);
      manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: md, size: m.length, annotations: { 'org.opencontainers.image.ref.name': `t${i}` } });
    }
    // Orphans for GC to look at (old enough to be collected when gcDelay allows).
    for (let i = 0; i < PER_REPO / 2; i++) {
      const p = join(dir, 'blobs/sha256', (await put(randomBytes(64))).slice(7));
      await utimes(p, old, old);
    }
    await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  }
}

const freePort = () => new Promise((res) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });

async function start(root, extra) {
  const port = await freePort();
  const cfg = join(root, '..', `cfg-${port}.json`);
  await writeFile(cfg, JSON.stringify({ storage: { rootDirectory: root, ...extra }, http: { address: '127.0.0.1', port: String(port) }, log: { level: 'info' } }));
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [join(top, 'dist/skiff.mjs'), 'serve', cfg], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  for (;;) {
    const ok = await new Promise((res) => {
      const req = request({ host: '127.0.0.1', port, path: '/readyz' }, (r) => { r.resume(); res(r.statusCode === 200); });
      req.on('error', () => res(false));
      req.end();
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { port, child, readyMs, logs: () => out, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}

/** Manifest GETs at `concurrency` for `seconds`, and then on while `more()` says so (capped at 2 min). */
async function getLoad(port, seconds, concurrency = 16, more = () => false) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const lat = [];
  const started = Date.now();
  const end = started + seconds * 1000;
  const going = () => Date.now() < end || (more() && Date.now() < started + 120_000);
  const worker = async (w) => {
    for (let i = w; going(); i += concurrency) {
      const path = `/v2/bench/repo${i % REPOS}/manifests/t${(i * 7) % PER_REPO}`;
      const t = process.hrtime.bigint();
      await new Promise((res, rej) => {
        const req = request({ host: '127.0.0.1', port, path, agent }, (r) => { r.resume(); r.on('end', res); });
        req.on('error', rej);
        req.end();
      });
      lat.push(Number(process.hrtime.bigint() - t) / 1e3);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  agent.destroy();
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const elapsed = (Date.now() - started) / 1000;
  return { requests: lat.length, rps: Math.round(lat.length / elapsed), p50us: Math.round(q(0.5)), p99us: Math.round(q(0.99)) };
}

if (!existsSync(join(top, 'dist/skiff.mjs'))) spawnSync(process.execPath, [join(top, 'build/build.mjs')], { stdio: 'inherit' });
const work = await mkdtemp(join(tmpdir(), 'skiff-bench-lc-'));
const root = join(work, 'root');
try {
  process.stdout.write(`seeding ${REPOS * PER_REPO} manifests, ${REPOS * PER_REPO * 1.5 + REPOS} blobs in ${REPOS} repositories...\n`);
  await seed(root);
  const fresh = await start(root, { gc: false });
  await fresh.stop();
  const warm = [];
  for (let i = 0; i < 5; i++) {
    const s = await start(root, { gc: false });
    warm.push(s.readyMs);
    await s.stop();
  }
  warm.sort((a, b) => a - b);

  const noGc = await start(root, { gc: false });
  const baseline = await getLoad(noGc.port, SECONDS);
  await noGc.stop();

  // Sweeps back to back: gcInterval 1s, gcDelay 1h (orphans are old, so the first sweep
  // frees them; later sweeps do the full mark and scan and find nothing more).
  const gc = await start(root, { gc: true, gcInterval: '1s', gcDelay: '1h' });
  // Until three sweeps have finished: the first one deletes, the later ones show the
  // steady state (mark everything, delete nothing).
  const finished = () => gc.logs().split('\n').filter((l) => l.includes('"gc finished"')).length;
  const during = await getLoad(gc.port, SECONDS, 16, () => finished() < 3);
  await gc.stop();
  const sweeps = gc.logs().split('\n').filter((l) => l.includes('"gc finished"')).map((l) => JSON.parse(l));

  const row = (k, v) => process.stdout.write(`${k.padEnd(46)} ${v}\n`);
  process.stdout.write(`\nstore: ${REPOS} repositories, ${REPOS * PER_REPO} manifests\n`);
  row('startup to /readyz, fresh index (built from disk)', `${fresh.readyMs.toFixed(0)} ms`);
  row('startup to /readyz, current index (median of 5)', `${warm[2].toFixed(0)} ms (min ${warm[0].toFixed(0)}, max ${warm[4].toFixed(0)})`);
  if (sweeps.length > 0) {
    row('first GC sweep (frees the orphans)', `${sweeps[0].ms} ms, ${sweeps[0].blobs} blobs freed`);
    const later = sweeps.slice(1).map((s) => s.ms).sort((a, b) => a - b);
    if (later.length) row(`later sweeps (median of ${later.length})`, `${later[Math.floor(later.length / 2)]} ms`);
  }
  row('manifest GET c16 without GC', `${baseline.rps} req/s, p50 ${baseline.p50us} µs, p99 ${baseline.p99us} µs`);
  row('manifest GET c16 during back-to-back sweeps', `${during.rps} req/s, p50 ${during.p50us} µs, p99 ${during.p99us} µs (${sweeps.length} sweeps)`);
  process.stdout.write(`load avg: ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8')}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
