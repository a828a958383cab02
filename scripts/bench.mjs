#!/usr/bin/env node
// `npm run bench`: skiff against distribution (Debian's docker-registry) on loopback, same
// workloads, alternating, one table of medians plus raw JSON in bench-results/. The bench lives
// apart in scripts/bench/ (plain ESM, no npm dependencies: its HTTP clients are raw sockets and
// wrk). This entry installs wrk when root and absent, builds dist/skiff.mjs, then runs
// scripts/bench/main.mjs.
//   npm run bench                      full run (~10 min on 2 cores)
//   npm run bench -- --quick           ~1 min smoke run
//   npm run bench -- --only manifest   selected workloads (see --help)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(top, 'scripts', 'bench');
const argv = process.argv.slice(2);
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

const { main } = await import(pathToFileURL(join(benchDir, 'main.mjs')).href);
process.exitCode = await main(top, argv);
