#!/usr/bin/env node
// Builds skiff's sendfile addon (native/sendfile) with node-gyp against this Node's headers.
// Run by `npm ci`/`npm install` (the "install" script) and by `npm test` when the addon is
// missing. A machine without a compiler still installs: skiff then copies downloads through
// user space and says so at start, so a failed build warns here and exits 0.
// `--strict` exits 1 on failure instead (for checking a build by hand); `--if-missing` does
// nothing when the addon is already built from the current sources (npm test's check).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(top, 'native/sendfile');
const strict = process.argv.includes('--strict');
const built = join(dir, 'build/Release/skiff_sendfile.node');
// Up to date: built after every source (a checkout that adds a function must rebuild).
const sources = readdirSync(dir).filter((f) => /\.(c|cc|h|gyp)$/.test(f));
const fresh = existsSync(built) && sources.every((f) => statSync(join(dir, f)).mtimeMs <= statSync(built).mtimeMs);
if (process.argv.includes('--if-missing') && fresh) process.exit(0);

if (process.platform !== 'linux') {
  console.log(`skiff: sendfile addon skipped: ${process.platform} is not Linux`);
  process.exit(0);
}

/** node-gyp as npm runs it for install scripts, else the copy bundled with this node's npm. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const bundled = join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  return existsSync(bundled) ? bundled : null;
}

const gyp = nodeGyp();
if (!gyp) fail('node-gyp not found (neither npm_config_node_gyp nor the one bundled with npm)');
// Node's own headers when they sit beside it (Debian's nodejs, official tarballs); else
// node-gyp's npm-configured nodedir or its download.
const prefix = join(dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include/node/node_api.h')) ? prefix : null);
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--directory', dir, ...(nodedir ? [`--nodedir=${nodedir}`] : [])], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0 || !existsSync(built)) fail(`node-gyp exited with ${r.status}\n${r.stdout}${r.stderr}`);
console.log(`skiff: built ${built}`);

function fail(why) {
  console.error(`skiff: WARNING: the sendfile addon was not built: ${why}`);
  console.error('skiff: blob downloads on plain HTTP will copy through user space (slower); `node scripts/build-native.mjs --strict` retries');
  process.exit(strict ? 1 : 0);
}
