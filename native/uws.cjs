'use strict';
/**
 * Which uWebSockets.js binary this process may load, and loading it.
 *
 * Why this file exists instead of `require('@trufflesuite/uws-js-unofficial')`:
 * the package's main entry catches a failed binary load and silently returns a
 * pure-JS imitation built on node:http ("fallback") that lacks TLS options,
 * pause/resume and real tryEnd backpressure. A registry that streams gigabytes
 * must know which engine it runs, so we pick the `.node` file ourselves and
 * report "none" when nothing matches; the caller then chooses node:http openly.
 *
 * The package ships one binary per platform/arch/ABI:
 *   binaries/uws_<platform>_<arch>_<process.versions.modules>.node
 * (ABI 93 = Node 16, 108 = Node 18, 115 = Node 20; Node 22 = 127 has none).
 *
 * `SKIFF_UWS_BINARY=/abs/path/uws.node` overrides the choice (for bundled or
 * single-executable builds that ship the binary next to the program).
 */
const path = require('node:path');
const fs = require('node:fs');

const PACKAGE = '@trufflesuite/uws-js-unofficial';

/** The file name this process needs, e.g. `uws_linux_x64_115.node`. */
function binaryName() {
  return `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
}

/** Absolute path of the package folder, or null when it is not installed. */
function packageDir() {
  try {
    // package.json is a plain file: resolving it never runs the package's main entry.
    return path.dirname(require.resolve(`${PACKAGE}/package.json`));
  } catch {
    return null;
  }
}

/** Where the binary for this process would be, or null with a reason. */
function locate() {
  const override = process.env.SKIFF_UWS_BINARY;
  if (override) {
    return fs.existsSync(override)
      ? { path: override, reason: null }
      : { path: null, reason: `SKIFF_UWS_BINARY=${override} does not exist` };
  }
  const dir = packageDir();
  if (!dir) return { path: null, reason: `${PACKAGE} is not installed` };
  const file = path.join(dir, 'binaries', binaryName());
  if (!fs.existsSync(file)) {
    return { path: null, reason: `no ${binaryName()} in ${PACKAGE} (Node ${process.version}, ABI ${process.versions.modules})` };
  }
  return { path: file, reason: null };
}

/**
 * Load the binary. Returns `{ uws, path }` or `{ uws: null, reason }`;
 * never throws and never falls back to the JS imitation.
 */
function load() {
  const where = locate();
  if (!where.path) return { uws: null, path: null, reason: where.reason };
  try {
    // Requiring a `.node` file goes through process.dlopen: native code only.
    const uws = require(where.path);
    if (typeof uws.App !== 'function' || typeof uws.us_listen_socket_close !== 'function') {
      return { uws: null, path: where.path, reason: `${where.path} is not a uWebSockets.js binary` };
    }
    return { uws, path: where.path, reason: null };
  } catch (err) {
    return { uws: null, path: where.path, reason: `loading ${where.path} failed: ${err && err.message}` };
  }
}

module.exports = { binaryName, locate, load };
