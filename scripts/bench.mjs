#!/usr/bin/env node
// `npm run bench`: skiff against distribution (Debian's docker-registry) on loopback, same
// workloads, alternating, one table of medians plus raw JSON in bench-results/. The bench lives
// apart in scripts/bench/ (plain ESM, no npm dependencies: its HTTP clients are raw sockets and
// wrk). This entry installs wrk when root and absent, builds dist/skiff.mjs, then runs
// scripts/bench/main.mjs.
// After the side-by-side suite come the single-purpose benches of the other issues, each
// against skiff alone or its own baseline (their output also goes to bench-results/<name>-*.txt):
// lifecycle (GC sweep over 10,000 blobs, startup to /readyz with 10,000 manifests), sync
// (pull-through versus direct), auth (authenticated versus anonymous manifest GETs).
//   npm run bench                      everything, the core suite on both engines (~20 min on 2 cores)
//   npm run bench -- --engine node     the core suite on one engine (uws, node or uws,node)
//   npm run bench -- --quick           ~2 min smoke run
//   npm run bench -- --only manifest   selected workloads of the core suite only (see --help)
//   npm run bench -- --suite lifecycle,auth   selected suites: core, lifecycle, sync, auth
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(top, 'scripts', 'bench');
const SIDE = {
  lifecycle: { file: 'lifecycle-bench.mjs', quick: ['--repos', '10', '--per-repo', '20', '--seconds', '2'] },
  sync: { file: 'sync-bench.mjs', quick: ['--mib', '16'] },
  auth: { file: 'auth-bench.mjs', quick: ['--seconds', '1', '--repeats', '1'] },
};
let argv = process.argv.slice(2);
const suiteAt = argv.indexOf('--suite');
const suites = suiteAt >= 0 ? argv[suiteAt + 1].split(',') : argv.includes('--only') ? ['core'] : ['core', ...Object.keys(SIDE)];
if (suiteAt >= 0) argv = argv.filter((_, i) => i !== suiteAt && i !== suiteAt + 1);
const unknown = suites.filter((s) => s !== 'core' && !(s in SIDE));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown suite ${unknown.join(', ')} (core, ${Object.keys(SIDE).join(', ')})\n`);
  process.exit(2);
}
const say = (msg) => process.stderr.write(`${msg}\n`);
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });

if (!argv.includes('--help') && !argv.includes('-h')) {
  if (!existsSync('/usr/bin/docker-registry')) {
    say('bench: /usr/bin/docker-registry (Debian package docker-registry) is required');
    process.exit(1);
  }
  if (spawnSync('wrk', ['--version']).error && process.getuid?.() === 0) {
    say('bench: installing wrk (apt-get)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = run('apt-get', ['install', '-y', '-qq', 'wrk'], { env, stdio: ['ignore', 2, 'inherit'] });
    if (r.status !== 0) {
      run('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 2, 'inherit'] });
      r = run('apt-get', ['install', '-y', '-qq', 'wrk'], { env, stdio: ['ignore', 2, 'inherit'] });
    }
    if (r.status !== 0) say('bench: wrk unavailable; GET rows fall back to the node generator');
  }
  const b = run(process.execPath, [join(top, 'build', 'build.mjs')], { stdio: ['ignore', 2, 'inherit'] });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

// The core suite runs once per HTTP engine, each with its own table and target lines:
// uWebSockets.js serves TLS listeners, node:http serves plain HTTP (the default listener).
// `--engine uws` or `--engine node` runs one.
const engineAt = argv.indexOf('--engine');
const engines = engineAt >= 0 ? argv[engineAt + 1].split(',') : ['uws', 'node'];
if (engineAt >= 0) argv = argv.filter((_, i) => i !== engineAt && i !== engineAt + 1);
if (suites.includes('core') || argv.includes('--help') || argv.includes('-h')) {
  const { main } = await import(pathToFileURL(join(benchDir, 'main.mjs')).href);
  for (const engine of argv.includes('--help') || argv.includes('-h') ? [engines[0]] : engines) {
    const code = await main(top, [...argv, '--engine', engine]);
    if (code !== 0) process.exitCode = code;
  }
}
if (!argv.includes('--help') && !argv.includes('-h')) {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  mkdirSync(join(top, 'bench-results'), { recursive: true });
  for (const name of suites.filter((s) => s in SIDE)) {
    const { file, quick } = SIDE[name];
    say(`\nbench: ${name} (scripts/bench/${file})`);
    const r = spawnSync(process.execPath, [join(benchDir, file), ...(argv.includes('--quick') ? quick : [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
    process.stdout.write(r.stdout ?? '');
    writeFileSync(join(top, 'bench-results', `${name}-${stamp}.txt`), r.stdout ?? '');
    if (r.status !== 0) {
      say(`bench: ${name} failed (exit ${r.status})`);
      process.exitCode = 1;
    }
  }
}
