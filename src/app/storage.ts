import type { Logger } from 'pino';
import type { SkiffConfig } from '../config/types.ts';
import { createLogger } from '../platform/logger.ts';
import { createStorage } from '../storage/index.ts';

/** The storage engine a config describes (serve and the offline commands open it alike). */
export function storageFromConfig(config: SkiffConfig, log: Logger) {
  return createStorage({
    rootDirectory: config.storage.rootDirectory,
    dedupe: config.storage.dedupe,
    commit: config.storage.commit,
    maxRepos: config.storage.maxRepos,
    minFreeSpace: config.storage.minFreeSpace,
    log,
  });
}

/** zot's audit log (`log.audit`), when configured. */
export function auditLogger(config: SkiffConfig): Logger | undefined {
  return config.log.audit ? createLogger({ level: 'info', output: config.log.audit, base: { app: 'skiff', log: 'audit' } }) : undefined;
}
