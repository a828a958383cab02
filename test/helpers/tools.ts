/**
 * Running the real client tools (skopeo, podman, ctr, umoci, oci-image-tool) from tests:
 * presence checks for graceful skips, and a runner whose errors carry the command line
 * and the tool's stderr, so a failing e2e test says what the tool said.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** The absolute path of `bin` on PATH, or undefined. */
export function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A skip reason when any of `bins` is absent (for `t.skip` / `{ skip }`), else false. */
export function missing(...bins: string[]): string | false {
  const absent = bins.filter((b) => !which(b));
  return absent.length ? `${absent.join(', ')} not installed (scripts/install-test-deps.sh installs it)` : false;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Resolve with the non-zero code instead of rejecting. */
  allowFail?: boolean;
}

/** Runs `bin args`; rejects on a non-zero exit (unless allowFail) with the command and its output. */
export function run(bin: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (code !== 0 && !opts.allowFail) {
          const why = err?.killed ? `killed (timeout ${opts.timeoutMs ?? 60_000} ms)` : `exit ${String(err?.code)}`;
          reject(new Error(`${bin} ${args.join(' ')}: ${why}\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout}`));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A signature policy accepting anything, so no test depends on /etc/containers/policy.json. */
export async function writePolicy(dir: string): Promise<string> {
  const path = join(dir, 'policy.json');
  await writeFile(path, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return path;
}

/** skopeo with an explicit policy file; the registry is plain HTTP on loopback. */
export class Skopeo {
  constructor(readonly policy: string) {}

  run(args: string[], opts?: RunOptions): Promise<RunResult> {
    return run('skopeo', ['--policy', this.policy, ...args], opts);
  }

  /** `skopeo copy` from a registry or layout to a registry or layout, TLS off on both sides. */
  copy(src: string, dest: string, extra: string[] = []): Promise<RunResult> {
    return this.run(['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', ...extra, src, dest]);
  }

  /** The exact manifest bytes the registry serves for `ref`. */
  async raw(ref: string, extra: string[] = []): Promise<string> {
    return (await this.run(['inspect', '--raw', '--tls-verify=false', ...extra, ref])).stdout;
  }

  async inspect(ref: string, extra: string[] = []): Promise<Record<string, unknown>> {
    return JSON.parse((await this.run(['inspect', '--tls-verify=false', ...extra, ref])).stdout) as Record<string, unknown>;
  }

  async tags(ref: string): Promise<string[]> {
    return (JSON.parse((await this.run(['list-tags', '--tls-verify=false', ref])).stdout) as { Tags: string[] }).Tags;
  }
}
