/**
 * A private containerd for e2e tests: its own root, state, sockets and opt dir under a
 * temp directory, no CRI plugin, only the native snapshotter (plain directories: no
 * mounts to leak, works wherever overlayfs does not), and content isolated between
 * namespaces so a pull in a fresh namespace really downloads every blob.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type RunOptions, type RunResult } from './tools.ts';

export interface Containerd {
  address: string;
  /** Where the native snapshotter keeps its snapshot directories. */
  snapshots: string;
  logFile: string;
  /** `ctr --address <sock> --namespace <ns> ...args`, native snapshotter. */
  ctr(ns: string, args: string[], opts?: RunOptions): Promise<RunResult>;
  stop(): Promise<void>;
}

function config(dir: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.overlayfs",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
]

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"

[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "isolated"
`;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts containerd over `dir` (which must exist) and waits until `ctr version` answers. */
export async function startContainerd(dir: string): Promise<Containerd> {
  const configFile = join(dir, 'containerd.toml');
  await writeFile(configFile, config(dir));
  const address = join(dir, 'containerd.sock');
  const logFile = join(dir, 'containerd.log');
  const fd = openSync(logFile, 'a');
  const child = spawn('containerd', ['--config', configFile], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const env = { ...process.env, CONTAINERD_SNAPSHOTTER: 'native' };
  const ctr = (ns: string, args: string[], opts: RunOptions = {}) =>
    run('ctr', ['--address', address, '--namespace', ns, ...args], { env, timeoutMs: 60_000, ...opts });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited(child);
    clearTimeout(timer);
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`containerd exited (${child.exitCode}):\n${await readFile(logFile, 'utf8')}`);
    const r = await ctr('default', ['version'], { allowFail: true, timeoutMs: 5000 });
    if (r.code === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not answer within 20 s:\n${r.stderr}\n${await readFile(logFile, 'utf8')}`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  return { address, snapshots: join(dir, 'root/io.containerd.snapshotter.v1.native/snapshots'), logFile, ctr, stop };
}
