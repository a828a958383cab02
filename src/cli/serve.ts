import { isConfigError, loadConfig } from '../config/index.ts';
import { startRegistry } from '../app/app.ts';

/**
 * `skiff serve [config]`: runs until SIGTERM/SIGINT, then drains in-flight requests
 * (bounded) and closes the index before exiting, as a systemd service expects.
 */
export async function serveCommand(args: string[]): Promise<number> {
  const path = args.find((a) => !a.startsWith('-'));
  let loaded;
  try {
    loaded = await loadConfig(path);
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`skiff: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const registry = await startRegistry(loaded);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        registry.log.warn({ signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      registry.log.info({ signal }, 'shutting down');
      registry.close().then(
        () => resolve(0),
        (err) => {
          registry.log.error({ err }, 'error during shutdown');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
