import { isConfigError, loadConfig, type LoadedConfig } from '../config/index.ts';
import { createLogger } from '../platform/logger.ts';
import { auditLogger, storageFromConfig } from '../app/storage.ts';

/**
 * Opens the store of a config for an offline command (gc, scrub). Refuses when a
 * registry answers on the configured address: its locks live in that process, so a
 * second writer could race it (zot's scrub refuses the same way).
 */
export async function openOffline(args: string[], command: string) {
  const path = args.find((a) => !a.startsWith('-'));
  if (!path) throw new UsageError(`usage: skiff ${command} <config>`);
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig(path);
  } catch (err) {
    if (isConfigError(err)) throw new UsageError(`skiff: ${err.message}`);
    throw err;
  }
  const { config } = loaded;
  if (await serverAnswers(config.http.address, config.http.port)) {
    throw new UsageError(`skiff ${command}: a registry is serving on ${config.http.address}:${config.http.port}; stop it first (its own scheduled ${command} runs inside it)`);
  }
  const log = createLogger({ level: config.log.level === 'debug' || config.log.level === 'trace' ? config.log.level : 'warn' });
  const audit = auditLogger(config);
  const storage = storageFromConfig(config, log);
  await storage.ready();
  return { config, storage, log, audit };
}

/** A command-line mistake: printed without a stack, exit status 2. */
export class UsageError extends Error {}

async function serverAnswers(address: string, port: number): Promise<boolean> {
  const host = address === '0.0.0.0' || address === '::' || address === '' ? '127.0.0.1' : address.includes(':') ? `[${address}]` : address;
  try {
    const res = await fetch(`http://${host}:${port}/v2/`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.headers.has('docker-distribution-api-version');
  } catch {
    return false;
  }
}
