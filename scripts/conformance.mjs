#!/usr/bin/env node
// Runs the official OCI distribution-spec conformance suite (a built `conformance.test` binary,
// from opencontainers/distribution-spec conformance/ via `go test -c`) against a fresh skiff.
//   node scripts/conformance.mjs [path/to/conformance.test] [--engine uws|node] [--keep] [-- ginkgo flags]
// The binary may also come from CONFORMANCE_BIN. Any OCI_* variable already in the environment
// (OCI_AUTOMATIC_CROSSMOUNT, OCI_DELETE_MANIFEST_BEFORE_BLOBS, OCI_REPORT_DIR, ...) overrides
// the defaults below, except OCI_ROOT_URL, which always points at the skiff started here.
// Exits with the suite's exit code; prints 'N passed, N failed, N skipped' from its JUnit report.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const dashes = argv.indexOf('--');
const own = dashes < 0 ? argv : argv.slice(0, dashes);
const suiteArgs = dashes < 0 ? [] : argv.slice(dashes + 1);
let engine = 'uws';
let keep = false;
let bin = process.env.CONFORMANCE_BIN;
for (let i = 0; i < own.length; i++) {
  if (own[i] === '--engine') engine = own[++i];
  else if (own[i].startsWith('--engine=')) engine = own[i].slice('--engine='.length);
  else if (own[i] === '--keep') keep = true;
  else bin = own[i];
}
if (!bin || !existsSync(bin)) fail(`no conformance binary: pass its path or set CONFORMANCE_BIN (got ${bin ?? 'nothing'})`);
if (engine !== 'uws' && engine !== 'node') fail(`--engine must be uws or node, not ${engine}`);
bin = resolve(bin);

// A checkout without a build still works; an existing bundle is used as it is (not rebuilt),
// so the run tests exactly what dist/ holds.
const bundle = join(top, 'dist', 'skiff.mjs');
if (!existsSync(bundle)) {
  const b = spawnSync(process.execPath, [join(top, 'build', 'build.mjs')], { stdio: 'inherit' });
  if (b.status !== 0) fail('build failed');
}

const work = await mkdtemp(join(tmpdir(), 'skiff-conformance-'));
const reportDir = process.env.OCI_REPORT_DIR ? resolve(process.env.OCI_REPORT_DIR) : join(work, 'report');
await mkdir(reportDir, { recursive: true });
const port = await freePort();
const config = join(work, 'config.json');
await writeFile(config, JSON.stringify({
  distSpecVersion: '1.1.1',
  storage: { rootDirectory: join(work, 'data') },
  http: { address: '127.0.0.1', port: String(port) },
  log: { level: 'warn' },
}, null, 2));

// skiff's own output goes to a file: the suite's report is what should fill the terminal.
const logFile = join(work, 'skiff.log');
const logFd = openSync(logFile, 'a');
const skiff = spawn(process.execPath, [bundle, 'serve', config], {
  env: { ...process.env, SKIFF_HTTP_ENGINE: engine },
  stdio: ['ignore', logFd, logFd],
});
let skiffExited = false;
skiff.on('exit', () => { skiffExited = true; });
const stopAll = () => { if (!skiffExited) skiff.kill('SIGTERM'); };
process.on('SIGINT', () => { stopAll(); process.exit(130); });
process.on('SIGTERM', () => { stopAll(); process.exit(143); });

const root = `http://127.0.0.1:${port}`;
await waitReady(`${root}/v2/`, 30_000);
console.log(`skiff (${engine}) at ${root}, data and log in ${work}, report in ${reportDir}`);

const env = {
  OCI_NAMESPACE: 'myorg/myrepo',
  OCI_CROSSMOUNT_NAMESPACE: 'myorg/other',
  OCI_TEST_PULL: '1',
  OCI_TEST_PUSH: '1',
  OCI_TEST_CONTENT_DISCOVERY: '1',
  OCI_TEST_CONTENT_MANAGEMENT: '1',
  OCI_HIDE_SKIPPED_WORKFLOWS: '0',
  OCI_DEBUG: '0',
  ...process.env,
  OCI_ROOT_URL: root,
  OCI_REPORT_DIR: reportDir,
};
const code = await new Promise((res) => {
  const suite = spawn(bin, suiteArgs, { env, stdio: 'inherit', cwd: work });
  suite.on('exit', (c, sig) => res(c ?? (sig ? 128 : 1)));
});

await stopSkiff();
const summary = await summarize(join(reportDir, 'junit.xml'));
console.log(`\nconformance (${engine}): exit ${code}`);
for (const [label, names] of [['failed', summary.failed], ['skipped', summary.skipped]]) {
  for (const n of names) console.log(`  ${label}: ${n}`);
}
console.log(`${summary.passed} passed, ${summary.failed.length} failed, ${summary.skipped.length} skipped`);
// A clean run leaves nothing behind; a failed one keeps skiff's data, log and the report.
if (code === 0 && !keep && !process.env.OCI_REPORT_DIR) await rm(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
process.exit(code);

function fail(msg) { console.error(`conformance: ${msg}`); process.exit(2); }

/** Asks the kernel for an unused port; the tiny race until skiff binds it is fine on loopback. */
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port: p } = s.address(); s.close(() => res(p)); });
  });
}

async function waitReady(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (skiffExited) fail(`skiff exited before serving; see ${logFile}`);
    try { if ((await fetch(url)).status === 200) return; } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  stopAll();
  fail(`${url} did not answer 200 within ${ms} ms; see ${logFile}`);
}

/** SIGTERM lets skiff drain and close its index; SIGKILL only if it hangs. */
async function stopSkiff() {
  if (skiffExited) return;
  const done = new Promise((r) => skiff.once('exit', r));
  skiff.kill('SIGTERM');
  const t = setTimeout(() => skiff.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}

/** Reads Ginkgo's JUnit report: one <testcase> per spec, with status="passed|failed|skipped|...". */
async function summarize(file) {
  const out = { passed: 0, failed: [], skipped: [] };
  let xml;
  try { xml = await readFile(file, 'utf8'); } catch { console.log(`no JUnit report at ${file}`); return out; }
  const unescape = (s) => s.replace(/&#34;|&quot;/g, '"').replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#xA;|&#10;/g, ' ').replace(/&amp;/g, '&');
  for (const m of xml.matchAll(/<testcase\b([^>]*)>/g)) {
    const name = unescape(/\bname="([^"]*)"/.exec(m[1])?.[1] ?? '?');
    const status = /\bstatus="([^"]*)"/.exec(m[1])?.[1] ?? '';
    // Suite-level nodes (the suite's own ReportAfterSuite reporters) are not specs: they only
    // count when they fail. Every spec's name starts with the suite's description.
    const spec = name.startsWith('OCI Distribution Conformance Tests');
    if (status === 'passed') { if (spec) out.passed++; }
    else if (status === 'skipped' || status === 'pending') out.skipped.push(name);
    else out.failed.push(`${name} (${status})`);
  }
  return out;
}
