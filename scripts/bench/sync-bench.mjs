#!/usr/bin/env node
// Sync benchmark, standalone: `node scripts/bench/sync-bench.mjs [--mib 100]`.
//
//  1. first pull of a ~100 MiB image through skiff (on-demand sync from the upstream),
//     against pulling the same image from the upstream directly (the ratio is the cost of
//     the cache on a miss);
//  2. a second pull through skiff, served locally;
//  3. sixteen clients pulling another uncached image at the same moment: the upstream must
//     see one fetch (one manifest GET, each blob once), counted by a proxy in front of it.
//
// The upstream is Debian's docker-registry when installed (a private instance on loopback),
// else a second skiff. skiff runs from dist/skiff.mjs (built when missing). Loopback only.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '../..');
const MIB = Number(process.argv[process.argv.indexOf('--mib') + 1]) || 100;
const CLIENTS = 16;
const work = mkdtempSync(join(tmpdir(), 'skiff-sync-bench-'));
const children = [];
const servers = [];
const OCI = 'application/vnd.oci.image.manifest.v1+json';

const freePort = () =>
  new Promise((resolve) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitUp(url) {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(500) }).then((r) => r.status < 500, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not start`);
}

function startChild(cmd, args, name) {
  const fd = openSync(join(work, `${name}.log`), 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.push(child);
  return child;
}

async function startSkiff(name, extra = {}) {
  const port = await freePort();
  const config = { distSpecVersion: '1.1.1', storage: { rootDirectory: join(work, name) }, http: { address: '127.0.0.1', port: String(port) }, log: { level: 'warn' }, ...extra };
  writeFileSync(join(work, `${name}.json`), JSON.stringify(config));
  startChild(process.execPath, [join(top, 'dist/skiff.mjs'), 'serve', join(work, `${name}.json`)], name);
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url);
  return url;
}

async function startUpstream() {
  if (spawnSync('which', ['docker-registry']).status !== 0) return { url: await startSkiff('upstream'), kind: 'skiff (dist/skiff.mjs)' };
  const port = await freePort();
  const cfg = join(work, 'registry.yml');
  writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, 'distribution')}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  startChild('docker-registry', ['serve', cfg], 'distribution');
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url);
  return { url, kind: 'docker-registry (distribution 2.8)' };
}

/** An HTTP proxy that counts the requests it forwards. */
async function startProxy(target) {
  const seen = [];
  const t = new URL(target);
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (u) => {
      res.writeHead(u.statusCode, u.headers);
      u.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${server.address().port}`, seen };
}

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Writes random (incompressible) layers to files and pushes an image; returns its manifest digest. */
async function pushImage(url, repo, mib) {
  const layerCount = 4;
  const layers = [];
  for (let i = 0; i < layerCount; i++) {
    const file = join(work, `${repo.replace('/', '_')}-layer${i}`);
    const h = createHash('sha256');
    const fd = openSync(file, 'w');
    for (let left = Math.round((mib * 1048576) / layerCount); left > 0; ) {
      const chunk = randomBytes(Math.min(left, 4 << 20));
      h.update(chunk);
      writeFileSync(fd, chunk);
      left -= chunk.length;
    }
    closeSync(fd);
    layers.push({ file, digest: `sha256:${h.digest('hex')}`, size: statSync(file).size });
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} }));
  const put = async (digest, body, length) => {
    const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await start.arrayBuffer();
    const loc = new URL(start.headers.get('location'), url);
    loc.searchParams.set('digest', digest);
    const res = await fetch(loc, { method: 'PUT', body, duplex: 'half', headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) } });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`push ${digest}: ${res.status}`);
  };
  await put(sha(config), config, config.length);
  for (const l of layers) await put(l.digest, createReadStream(l.file), l.size);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
    }),
  );
  const res = await fetch(`${url}/v2/${repo}/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'content-type': OCI } });
  if (res.status !== 201) throw new Error(`push manifest: ${res.status} ${await res.text()}`);
  for (const l of layers) rmSync(l.file);
  return sha(manifest);
}

/** Pulls like a client: the manifest, then every blob (4 at a time), hashing what arrives. */
async function pull(url, repo) {
  const t0 = performance.now();
  const m = await fetch(`${url}/v2/${repo}/manifests/v1`, { headers: { accept: OCI } });
  if (m.status !== 200) throw new Error(`GET ${url}/v2/${repo}/manifests/v1: ${m.status}`);
  const doc = await m.json();
  const manifestMs = performance.now() - t0;
  const queue = [doc.config, ...doc.layers];
  let bytes = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        const r = await fetch(`${url}/v2/${repo}/blobs/${d.digest}`);
        const h = createHash('sha256');
        for await (const chunk of r.body) {
          h.update(chunk);
          bytes += chunk.length;
        }
        if (`sha256:${h.digest('hex')}` !== d.digest) throw new Error(`digest mismatch for ${d.digest}`);
      }
    }),
  );
  return { ms: performance.now() - t0, bytes, manifestMs };
}

const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
const rate = (r) => `${(r.bytes / 1048576 / (r.ms / 1000)).toFixed(0)} MiB/s`;

try {
  if (!existsSync(join(top, 'dist/skiff.mjs'))) spawnSync(process.execPath, [join(top, 'build/build.mjs')], { stdio: 'inherit' });
  mkdirSync(work, { recursive: true });
  const upstream = await startUpstream();
  process.stderr.write(`upstream: ${upstream.kind}; pushing two ${MIB} MiB images...\n`);
  await pushImage(upstream.url, 'bench/big', MIB);
  await pushImage(upstream.url, 'bench/fanout', MIB);
  const proxy = await startProxy(upstream.url);
  // The timed image comes straight from the upstream (as the direct pull does); only the
  // fan-out image goes through the counting proxy, which costs a hop of its own.
  const skiff = await startSkiff('skiff', {
    extensions: {
      sync: {
        registries: [
          { urls: [upstream.url], onDemand: true, content: [{ prefix: 'bench/big' }] },
          { urls: [proxy.url], onDemand: true, content: [{ prefix: 'bench/fanout' }] },
        ],
      },
    },
  });

  await pull(upstream.url, 'bench/big'); // warm the upstream's page cache: the direct figure is its best
  const direct = await pull(upstream.url, 'bench/big');
  const first = await pull(skiff, 'bench/big');
  const second = await pull(skiff, 'bench/big');

  const before = proxy.seen.length;
  const t0 = performance.now();
  const fan = await Promise.all(Array.from({ length: CLIENTS }, () => pull(skiff, 'bench/fanout')));
  const fanMs = performance.now() - t0;
  const upstreamReqs = proxy.seen.slice(before).filter((s) => s.includes('/bench/fanout/'));
  const manifestGets = upstreamReqs.filter((s) => s === 'GET /v2/bench/fanout/manifests/v1').length;
  const blobGets = upstreamReqs.filter((s) => s.includes('/blobs/'));
  const oneFetch = manifestGets === 1 && blobGets.length === 5 && new Set(blobGets).size === 5;

  const rows = [
    ['direct pull from the upstream', fmt(direct.ms), rate(direct), ''],
    ['first pull through skiff (on-demand sync)', fmt(first.ms), rate(first), `${(first.ms / direct.ms).toFixed(2)}x direct; manifest answered after ${fmt(first.manifestMs)} (the sync)`],
    ['second pull through skiff (local)', fmt(second.ms), rate(second), `${(second.ms / direct.ms).toFixed(2)}x direct`],
    [`${CLIENTS} clients at once, uncached image`, fmt(fanMs), `${((fan.reduce((n, r) => n + r.bytes, 0) / 1048576) / (fanMs / 1000)).toFixed(0)} MiB/s total`, `upstream: ${manifestGets} manifest GET, ${blobGets.length} blob GETs`],
  ];
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  process.stdout.write(`\nsync benchmark: ${MIB} MiB image (4 random layers), upstream ${upstream.kind}; load average ${(await import('node:os')).loadavg()[0].toFixed(1)} on ${(await import('node:os')).cpus().length} CPUs\n\n`);
  for (const r of rows) process.stdout.write(`  ${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])}  ${r[3]}\n`);
  process.stdout.write(`\n  coalescing: ${oneFetch ? 'OK, one upstream fetch for all clients' : `FAILED: ${JSON.stringify(upstreamReqs)}`}\n`);
  process.exitCode = oneFetch ? 0 : 1;
} finally {
  for (const c of children) c.kill('SIGTERM');
  for (const s of servers) s.closeAllConnections?.(), s.close();
  await new Promise((r) => setTimeout(r, 300));
  rmSync(work, { recursive: true, force: true });
}
