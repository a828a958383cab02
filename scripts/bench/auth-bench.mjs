#!/usr/bin/env node
// Authentication cost on the hottest read: requests/s of GET /v2/<repo>/manifests/<tag>,
// anonymous versus Basic (htpasswd bcrypt cost 10), Bearer (RS256 JWT) and API key, all
// against the same built skiff in the same run, plus a registry with auth off as the
// baseline. Rows are measured in interleaved rounds and the table shows each row's median round.
// Usage: node scripts/bench/auth-bench.mjs [--seconds 5] [--repeats 3] [--connections 32] [--engine uws|node]
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import bcrypt from 'bcryptjs';
import { SignJWT } from 'jose';
import { Pool } from 'undici';

const top = join(dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = join(top, 'dist/skiff.mjs');
const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, repeats: { type: 'string', default: '3' }, connections: { type: 'string', default: '32' }, engine: { type: 'string' }, keep: { type: 'boolean', default: false } },
});
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startSkiff(work, http) {
  const port = await freePort();
  const file = join(work, `config-${port}.json`);
  writeFileSync(file, JSON.stringify({ distSpecVersion: '1.1.1', storage: { rootDirectory: join(work, `root-${port}`) }, http: { address: '127.0.0.1', port: String(port), ...http }, log: { level: 'error' } }));
  const fd = openSync(join(work, `skiff-${port}.log`), 'a');
  const env = { ...process.env, ...(args.engine ? { SKIFF_HTTP_ENGINE: args.engine } : {}) };
  const child = spawn(process.execPath, [DIST, 'serve', file], { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    try {
      const r = await fetch(`${url}/livez`);
      if (r.status === 200) return { url, child };
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`skiff did not start; see ${work}`);
}

async function pushImage(url, repo, tag, headers) {
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }));
  const digest = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  let r = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest(cfg)}`, { method: 'POST', body: cfg, headers: { ...headers, 'Content-Type': 'application/octet-stream' } });
  if (r.status !== 201) throw new Error(`blob push: ${r.status}`);
  const man = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(cfg), size: cfg.length }, layers: [] }));
  r = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: man, headers: { ...headers, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  if (r.status !== 201) throw new Error(`manifest push: ${r.status}`);
}

/** Closed-loop load: CONNECTIONS requests in flight for `seconds`; returns req/s and latency percentiles. */
async function measure(url, path, headers, seconds) {
  const pool = new Pool(url, { connections: CONNECTIONS, pipelining: 1 });
  const lat = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const { statusCode, body } = await pool.request({ method: 'GET', path, headers: { Accept: 'application/vnd.oci.image.manifest.v1+json', ...headers } });
      await body.dump();
      if (statusCode !== 200) errors++;
      lat.push(performance.now() - t0);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((lat.length * p) / 100))];
  return { rps: lat.length / elapsed, p50: pct(50), p99: pct(99), errors, n: lat.length };
}

if (!existsSync(DIST) || process.env.SKIFF_BENCH_REBUILD === '1') {
  const r = spawnSync(process.execPath, [join(top, 'build/build.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'skiff-auth-bench-'));
const children = [];
try {
  // Credentials: bcrypt cost 10 (a common htpasswd -B -C 10 choice), an RS256 signing key.
  const password = 'bench-password';
  writeFileSync(join(work, 'htpasswd'), `bench:${bcrypt.hashSync(password, 10).replace(/^\$2b\$/, '$2y$')}\n`);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(work, 'token-key.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  const service = 'skiff-bench';
  const token = await new SignJWT({ access: [{ type: 'repository', name: 'bench/app', actions: ['pull'] }] })
    .setProtectedHeader({ alg: 'RS256' })
    .setIssuer('bench-token-service')
    .setSubject('bench')
    .setAudience(service)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);

  const open = await startSkiff(work, {});
  children.push(open.child);
  const basicAuth = { Authorization: `Basic ${Buffer.from(`bench:${password}`).toString('base64')}` };
  const basicReg = await startSkiff(work, {
    auth: { htpasswd: { path: join(work, 'htpasswd') }, apikey: true },
    accessControl: { repositories: { '**': { anonymousPolicy: ['read'], policies: [{ users: ['bench'], actions: ['read', 'create'] }] } } },
  });
  children.push(basicReg.child);
  const bearerReg = await startSkiff(work, { auth: { bearer: { realm: 'https://token.invalid/token', service, cert: join(work, 'token-key.pem') } } });
  children.push(bearerReg.child);

  await pushImage(open.url, 'bench/app', 'v1', {});
  await pushImage(basicReg.url, 'bench/app', 'v1', basicAuth);
  const pushToken = await new SignJWT({ access: [{ type: 'repository', name: 'bench/app', actions: ['pull', 'push'] }] })
    .setProtectedHeader({ alg: 'RS256' }).setIssuer('bench-token-service').setSubject('bench').setAudience(service).setIssuedAt().setExpirationTime('1h').sign(privateKey);
  await pushImage(bearerReg.url, 'bench/app', 'v1', { Authorization: `Bearer ${pushToken}` });
  const made = await fetch(`${basicReg.url}/zot/auth/apikey`, { method: 'POST', body: JSON.stringify({ label: 'bench' }), headers: { ...basicAuth, 'Content-Type': 'application/json' } });
  const { apiKey } = await made.json();

  const path = '/v2/bench/app/manifests/v1';
  const rows = [
    ['auth off (no http.auth)', open.url, {}],
    ['anonymous (auth on, anonymousPolicy)', basicReg.url, {}],
    ['basic: htpasswd bcrypt cost 10', basicReg.url, basicAuth],
    ['basic: API key (zak_...)', basicReg.url, { Authorization: `Basic ${Buffer.from(`bench:${apiKey}`).toString('base64')}` }],
    ['bearer: RS256 JWT', bearerReg.url, { Authorization: `Bearer ${token}` }],
    // The baseline again, last in each round: the spread between the two is the noise floor.
    ['auth off, again (noise check)', open.url, {}],
  ];
  // Warm-up: JIT, caches, keep-alive connections.
  for (const [, url, headers] of rows) await measure(url, path, headers, 1);
  const rounds = rows.map(() => []);
  for (let round = 0; round < Number(args.repeats); round++) {
    for (const [i, [, url, headers]] of rows.entries()) rounds[i].push(await measure(url, path, headers, SECONDS));
  }
  const results = rows.map(([name], i) => {
    const sorted = [...rounds[i]].sort((a, b) => a.rps - b.rps);
    return { name, ...sorted[Math.floor(sorted.length / 2)] };
  });
  const base = results[0].rps;
  const engine = args.engine ?? 'default (node:http for plain HTTP)';
  process.stdout.write(`\nauth-bench: GET ${path}, ${CONNECTIONS} connections, median of ${args.repeats} rounds of ${SECONDS} s, engine ${engine}, ${cpus().length} CPUs, node ${process.version}\n\n`);
  process.stdout.write(`${'mode'.padEnd(40)} ${'req/s'.padStart(9)} ${'vs off'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'non-200'.padStart(8)}\n`);
  for (const r of results) {
    process.stdout.write(`${r.name.padEnd(40)} ${r.rps.toFixed(0).padStart(9)} ${`${((r.rps / base) * 100).toFixed(0)}%`.padStart(7)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${String(r.errors).padStart(8)}\n`);
  }
  process.stdout.write('\n');
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  if (!args.keep) rmSync(work, { recursive: true, force: true });
  else process.stdout.write(`kept ${work}\n`);
}

