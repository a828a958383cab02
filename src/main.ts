import { runCli } from './cli/index.ts';

/** Process entry: hands argv to the CLI and exits with its status. */
runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Timers of libraries (pino flushes, lmdb) must not keep a finished command alive.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    process.stderr.write(`skiff: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
