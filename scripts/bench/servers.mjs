// The two registries under test, started and stopped on loopback with a root directory each.
// skiff runs from the built bundle with the engine asked for (uWebSockets.js or node:http); distribution is
// Debian's docker-registry run with its own config file, never the system service.
import { spawn, execFileSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdirSync, openSync, closeSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const HOST = '127.0.0.1';

/** A free loopback TCP port (the kernel picks it; closed again before the server binds it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * One `GET /v2/` over a fresh socket: resolves to { status, head } (status 0 when the port is
 * not accepting yet). A raw socket keeps the probe cheap and exact for the cold-start figure.
 */
function probe(port) {
  return new Promise((resolve) => {
    const sock = connect({ host: HOST, port });
    let data = '';
    let settled = false;
    const done = (status) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve({ status, head: data });
    };
    sock.setNoDelay(true);
    sock.once('error', () => done(0));
    sock.once('connect', () => sock.write(`GET /v2/ HTTP/1.1\r\nHost: ${HOST}:${port}\r\nConnection: close\r\n\r\n`));
    sock.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const m = data.match(/^HTTP\/1\.[01] (\d{3})/);
      if (m && data.includes('\r\n\r\n')) done(Number(m[1]));
    });
    sock.once('end', () => done(0));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Servers still running: killed if the bench itself exits early (error, Ctrl-C). */
const live = new Set();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export const SKIFF = {
  name: 'skiff',
  label: 'skiff',
  /** The bundle to run; main.mjs points it at a private copy so a rebuild mid-run cannot swap it. */
  bundle: null,
  /**
   * The HTTP engine to run (SKIFF_HTTP_ENGINE): `uws` (what skiff runs on TLS listeners) by
   * default; `node` is skiff's own default for plain HTTP. Checked on every start by the
   * `uWebSockets` header uWS adds to each reply.
   */
  engine: 'uws',
  env() {
    return { SKIFF_HTTP_ENGINE: this.engine };
  },
  checkStart(head) {
    const uws = /\r\nuWebSockets:/i.test(head);
    if (uws !== (this.engine === 'uws')) throw new Error(`skiff answered with the ${uws ? 'uws' : 'node'} engine, not ${this.engine}`);
  },
  /** With --profile: where each skiff process writes its .cpuprofile, and the current label. */
  profileDir: null,
  profileLabel: 'run',
  profileCount: 0,
  /** Writes the zot-keyed config; returns the command line. */
  command(top, root, port, dir) {
    const cfg = join(dir, 'skiff.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        distSpecVersion: '1.1.1',
        storage: { rootDirectory: root, dedupe: true },
        http: { address: HOST, port: String(port) },
        log: { level: 'warn' },
      }),
    );
    const prof = this.profileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${this.profileDir}`, `--cpu-prof-name=${String(++this.profileCount).padStart(2, '0')}-${this.profileLabel}.cpuprofile`]
      : [];
    return [process.execPath, [...prof, this.bundle ?? join(top, 'dist', 'skiff.mjs'), 'serve', cfg]];
  },
  version(top) {
    try {
      const pkg = JSON.parse(readFileSync(join(top, 'package.json'), 'utf8'));
      const commit = execFileSync('git', ['-C', top, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['-C', top, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
      return `${pkg.version} (${commit}${dirty ? '+dirty src' : ''}, node ${process.version})`;
    } catch {
      return 'unknown';
    }
  },
};

export const DISTRIBUTION = {
  name: 'distribution',
  label: 'distribution',
  binary: '/usr/bin/docker-registry',
  command(_top, root, port, dir) {
    const cfg = join(dir, 'distribution.yml');
    writeFileSync(
      cfg,
      [
        'version: 0.1',
        'log:',
        '  level: error',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${root}`,
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: ${HOST}:${port}`,
        '',
      ].join('\n'),
    );
    return [this.binary, ['serve', cfg]];
  },
  version() {
    try {
      return execFileSync(this.binary, ['--version'], { encoding: 'utf8' }).trim().split(' ').slice(1).join(' ');
    } catch {
      return 'unknown';
    }
  },
};

export const SERVERS = [SKIFF, DISTRIBUTION];

/**
 * Starts `kind` on `root` and waits for the first 200 on `/v2/` (probed every 2 ms).
 * Returns { kind, pid, port, origin, startMs, stop() }; startMs runs from spawn to that 200.
 */
export async function startServer(kind, { top, root, dir, timeoutMs = 60_000 }) {
  mkdirSync(root, { recursive: true });
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const [cmd, args] = kind.command(top, root, port, dir);
  const logFile = join(dir, `${kind.name}.log`);
  const fd = openSync(logFile, 'a');
  const t0 = performance.now();
  const mono0 = Number(process.hrtime.bigint() / 1000n);
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...kind.env?.() } });
  closeSync(fd);
  live.add(child);
  let exited = null;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
    live.delete(child);
  });
  let first;
  for (;;) {
    if (exited) throw new Error(`${kind.name} exited during start (${JSON.stringify(exited)}); see ${logFile}`);
    first = await probe(port);
    if (first.status === 200) break;
    if (performance.now() - t0 > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`${kind.name} did not answer /v2/ within ${timeoutMs} ms; see ${logFile}`);
    }
    await sleep(2);
  }
  const startMs = performance.now() - t0;
  try {
    kind.checkStart?.(first.head);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    /** Spawn to first 200, CLOCK_MONOTONIC µs (the clock of .cpuprofile timestamps). */
    startSpan: [mono0, Number(process.hrtime.bigint() / 1000n)],
    kind,
    pid: child.pid,
    port,
    origin: `http://${HOST}:${port}`,
    startMs,
    logFile,
    /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
    async stop() {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}
