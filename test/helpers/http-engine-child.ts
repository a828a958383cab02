/**
 * An HTTP engine server in a child process, for memory measurements: in the
 * test process the client's own garbage would swamp the server's numbers.
 * The child runs with --expose-gc; `GET /mem` collects garbage first, so the
 * RSS it reports is memory the server actually retains (engine buffers,
 * queued chunks), plus the probe counters.
 *
 * Run directly: `node --expose-gc --import tsx test/helpers/http-engine-child.ts uws|node`
 * prints `{"port":N}` on its first stdout line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startServer } from '../../src/http/index.ts';
import { Probe, routes } from './http-engine-routes.ts';
import { request } from './http-wire.ts';

/** What `/mem` reports. */
export interface ChildMemory {
  rss: number;
  produced: number;
  consumed: number;
}

export interface ChildServer {
  readonly port: number;
  mem(): Promise<ChildMemory>;
  stop(): Promise<void>;
}

/** Start the child and wait for its port. */
export async function startChildServer(engine: 'uws' | 'node'): Promise<ChildServer> {
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), engine], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once('line', (l) => resolve((JSON.parse(l) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`child server exited early (${code})`)));
  });
  return {
    port,
    mem: async () => JSON.parse((await request(port, '/mem', { agent: false })).body.toString()) as ChildMemory,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function main(engine: 'uws' | 'node'): Promise<void> {
  const probe = new Probe();
  const gc = (globalThis as { gc?: () => void }).gc;
  const server = await startServer({
    address: '127.0.0.1',
    port: 0,
    engine,
    routes: [
      ...routes(probe, { reuseDownloadBuffer: true }),
      {
        name: 'mem',
        methods: ['GET'],
        pattern: /^\/mem$/,
        handler: () => {
          gc?.();
          const m: ChildMemory = { rss: process.memoryUsage().rss, produced: probe.produced, consumed: probe.consumed };
          return { status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(m) };
        },
      },
    ],
  });
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
  process.once('SIGTERM', () => void server.close(200).then(() => process.exit(0)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv[2] === 'node' ? 'node' : 'uws');
}
