import { serveCommand } from './serve.ts';
import { verifyCommand } from './verify.ts';
import { gcCommand } from './gc.ts';
import { scrubCommand } from './scrub.ts';
import { exportCommand } from './export.ts';
import { importCommand } from './import.ts';
import { UsageError } from './offline.ts';

const USAGE = `skiff: a zot-compatible OCI registry for the edge

Usage:
  skiff serve [config]     run the registry (no config: 127.0.0.1:8080, data in ./data)
  skiff verify <config>    check a config file without starting
  skiff gc <config> [--dry-run]
                           one garbage-collection pass (server stopped)
  skiff scrub <config>     re-hash every image and report ok/affected (server stopped)
  skiff export <config> <repo[:tag]>... <dir|file.tar>
                           write images with their referrers to an OCI layout (air gap)
  skiff import <config> <dir|file.tar> [--repo <name>]
                           load an OCI layout or archive (server stopped); ref names
                           "repo:tag" pick the repository, or --repo names it
  skiff --version          print the version

Config files use zot's keys, as JSON or YAML. SKIFF_* environment variables override
keys, e.g. SKIFF_HTTP_PORT=5000 SKIFF_STORAGE_ROOTDIRECTORY=/var/lib/skiff.
`;

/** Subcommands by name; each returns the process exit status. */
const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve: serveCommand,
  verify: verifyCommand,
  gc: gcCommand,
  scrub: scrubCommand,
  export: exportCommand,
  import: importCommand,
};

export const VERSION = '0.1.0';

/** Runs the command line; returns the exit status. */
export async function runCli(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version' || cmd === '-v' || cmd === 'version') {
    process.stdout.write(`skiff ${VERSION}\n`);
    return 0;
  }
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`skiff: unknown command "${cmd}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
