/**
 * Runs the BUILT artefact (dist/skiff.mjs) as a child process, the way an operator
 * would: a JSON config file on disk, a free loopback port, logs captured to a file.
 * End-to-end tests use this so they exercise the bundle, not the sources.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** The bundle every e2e test runs. */
export const DIST = join(top, 'dist/skiff.mjs');

async function newestMtime(path: string): Promise<number> {
  const s = await stat(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const e of await readdir(path)) newest = Math.max(newest, await newestMtime(join(path, e)));
  return newest;
}

async function isStale(): Promise<boolean> {
  const built = await stat(DIST).then((s) => s.mtimeMs, () => 0);
  if (built === 0) return true;
  const inputs = await Promise.all(['src', 'build/build.mjs', 'package.json'].map((p) => newestMtime(join(top, p))));
  return Math.max(...inputs) > built;
}

/**
 * Builds dist/skiff.mjs when it is missing or older than src/. A directory lock keeps two
 * test processes (the runner's concurrency) from rewriting the bundle under each other.
 */
async function buildLocked(): Promise<void> {
  const lock = join(top, 'dist/.e2e-build.lock');
  await mkdir(dirname(lock), { recursive: true });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      // A lock older than 30 s belongs to a process that died mid-build.
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 30_000) await rmdir(lock).catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`timed out waiting for build lock ${lock}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    if (!(await isStale())) return;
    const r = spawnSync(process.execPath, [join(top, 'build/build.mjs')], { cwd: top, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build failed (${r.status}): ${r.stderr}${r.stdout}`);
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
}

/**
 * Every work dir and its child, so a test that forgets dispose() (or dies on an assertion
 * before its after hook) leaves neither a running registry nor a temp dir behind. A work
 * dir whose registry died on its own is kept (`keep`): its log is the evidence.
 */
const live = new Map<string, { child?: ChildProcess; keep: boolean }>();
const keepAll = () => process.env.SKIFF_E2E_KEEP === '1';
process.once('exit', () => {
  for (const [work, { child, keep }] of live) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (!keep && !keepAll()) rmSync(work, { recursive: true, force: true });
  }
});

/** Says loudly, on the test's stderr, when a registry exits without being asked to. */
function watchUnexpectedExit(child: ChildProcess, entry: { keep: boolean }, port: number, logFile: string, expected: () => boolean): void {
  child.once('exit', (code, signal) => {
    if (expected()) return;
    entry.keep = true;
    void readFile(logFile, 'utf8')
      .catch(() => '')
      .then((log) => {
        const tail = log.split('\n').slice(-40).join('\n');
        process.stderr.write(`\n[e2e] skiff on 127.0.0.1:${port} (pid ${child.pid}) exited unexpectedly: code ${code}, signal ${signal}. Log kept at ${logFile}:\n${tail}\n`);
      });
  });
}

let built: Promise<void> | undefined;
/** Ensures the bundle is fresh; runs at most once per test process. */
export function ensureBuilt(): Promise<void> {
  built ??= buildLocked();
  return built;
}

/** A free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface SkiffProcess {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>`, as image references want it. */
  hostPort: string;
  /** The registry's storage.rootDirectory. */
  root: string;
  /** Combined stdout/stderr of the child. */
  logFile: string;
  child: ChildProcess;
  /** SIGTERM, then wait for exit (SIGKILL after `graceMs`); resolves to the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** The captured output so far. */
  logs(): Promise<string>;
  /** Stops the child if running and removes its temp dir (kept when SKIFF_E2E_KEEP=1); an external `root` is left alone. */
  dispose(): Promise<void>;
}

export interface StartOptions {
  /** Reuse a root (e.g. to restart over the same storage); a fresh temp root otherwise. */
  root?: string;
  /** Forces SKIFF_HTTP_ENGINE; otherwise the engine the environment picks (the default). */
  engine?: 'node' | 'uws';
  /** Merged into the zot-style config, one level deep (`{http: {...}}` extends http). */
  config?: Record<string, unknown>;
  readyTimeoutMs?: number;
  /** Another bundle to run (e.g. dist/skiff-minimal.mjs); it is not rebuilt here. */
  bundle?: string;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`skiff exited early (code ${child.exitCode}, signal ${child.signalCode})`);
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`skiff did not answer GET /v2/ with 200 within ${timeoutMs} ms`);
}

/** The environment for the child: this one, minus SKIFF_* overrides that would change its config. */
function childEnv(engine: StartOptions['engine']): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toUpperCase().startsWith('SKIFF_') || k === 'SKIFF_HTTP_ENGINE' || k === 'SKIFF_TEST') env[k] = v;
  }
  if (engine) env.SKIFF_HTTP_ENGINE = engine;
  return env;
}

async function startOnce(work: string, root: string, opts: StartOptions): Promise<SkiffProcess> {
  const port = await freePort();
  const config: Record<string, unknown> = {
    distSpecVersion: '1.1.1',
    storage: { rootDirectory: root },
    http: { address: '127.0.0.1', port: String(port) },
    log: { level: 'warn' },
  };
  for (const [k, v] of Object.entries(opts.config ?? {})) {
    config[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(config[k] as object), ...v } : v;
  }
  const configFile = join(work, 'config.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const logFile = join(work, `skiff-${port}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [opts.bundle ?? DIST, 'serve', configFile], { cwd: work, env: childEnv(opts.engine), stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const entry = live.get(work) ?? { keep: false };
  entry.child = child;
  live.set(work, entry);
  let asked = false;
  watchUnexpectedExit(child, entry, port, logFile, () => asked);
  const url = `http://127.0.0.1:${port}`;
  const kill = async () => {
    asked = true;
    child.kill('SIGKILL');
    await exited(child);
  };
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    asked = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited(child);
    clearTimeout(timer);
    return child.exitCode;
  };
  try {
    await waitReady(url, child, opts.readyTimeoutMs ?? 15_000);
  } catch (err) {
    entry.keep = false; // reported through the thrown error instead
    await kill();
    const log = await readFile(logFile, 'utf8').catch(() => '');
    throw Object.assign(new Error(`${(err as Error).message}\n--- ${logFile} ---\n${log}`), { log });
  }
  return {
    url,
    hostPort: `127.0.0.1:${port}`,
    root,
    logFile,
    child,
    stop,
    kill,
    logs: () => readFile(logFile, 'utf8'),
    async dispose() {
      await stop(5000);
      if (entry.keep || keepAll()) return;
      await rm(work, { recursive: true, force: true });
      live.delete(work);
    },
  };
}

/**
 * Builds (if needed) and starts `node dist/skiff.mjs serve <config.json>`; resolves once
 * GET /v2/ answers 200. Retries with a new port if the child dies before that (the free
 * port can be taken between probing and binding).
 */
export async function startSkiff(opts: StartOptions = {}): Promise<SkiffProcess> {
  if (!opts.bundle) await ensureBuilt();
  const work = await mkdtemp(join(tmpdir(), 'skiff-e2e-'));
  live.set(work, { keep: false });
  const root = opts.root ?? join(work, 'root');
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(work, root, opts);
    } catch (err) {
      last = err;
      if (!/EADDRINUSE/.test((err as { log?: string }).log ?? '')) break;
    }
  }
  await rm(work, { recursive: true, force: true });
  live.delete(work);
  throw last;
}
