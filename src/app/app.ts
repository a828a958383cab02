import type { Logger } from 'pino';
import { apiRoutes } from '../api/routes.ts';
import type { Health } from '../api/context.ts';
import { loadConfig, type LoadedConfig } from '../config/index.ts';
import { AuthService, JsonFileApiKeyStore } from '../auth/index.ts';
import { Guard } from '../api/guard.ts';
import { authRoutes } from '../api/auth-routes.ts';
import { watchFiles, type FileWatch } from '../platform/watched-files.ts';
import { startServer } from '../http/index.ts';
import type { HttpServer, ServerOptions } from '../http/types.ts';
import { createLogger } from '../platform/logger.ts';
import { collectGarbage, scrub, stateFilePath, type GcReport, type GcSettings } from '../storage/index.ts';
import type { Storage } from '../storage/index.ts';
import { Scheduler } from './scheduler.ts';
import { auditLogger, storageFromConfig } from './storage.ts';
import { EXTENSIONS } from '../extensions/enabled.ts';
import { startExtensions, type ExtensionHost } from '../extensions/host.ts';
import { requestLogger } from './audit.ts';

/** A running registry. */
export interface Registry {
  readonly server: HttpServer;
  readonly storage: Storage;
  readonly log: Logger;
  readonly port: number;
  readonly scheduler: Scheduler;
  /** Authentication, authorization and rate limits (hot-reloaded with the config file). */
  readonly auth: AuthService;
  /** Re-reads the config file and applies what can change at runtime (auth, accessControl, ratelimit). */
  reloadConfig(): Promise<void>;
  /** Runs one garbage-collection pass now (what the schedule runs). */
  gc(overrides?: Partial<GcSettings>): Promise<GcReport>;
  /** Stops accepting, drains in-flight requests (bounded), closes the index. */
  close(graceMs?: number): Promise<void>;
}

/** Options mainly for tests: inject a logger, force an HTTP engine. */
export interface StartOptions {
  log?: Logger;
  engine?: 'uws' | 'node';
}

/**
 * The composition root: logger, storage, API routes, HTTP engine. The index is
 * reconciled with the disk before the listener opens, so the first request already
 * sees every repository on disk.
 */
export async function startRegistry(loaded: LoadedConfig, opts: StartOptions = {}): Promise<Registry> {
  const { config } = loaded;
  const started = performance.now();
  const log = opts.log ?? createLogger({ level: config.log.level, ...(config.log.output ? { output: config.log.output } : {}) });
  const audit = auditLogger(config);
  for (const w of loaded.warnings) log.warn({ config: loaded.source }, w);
  for (const key of loaded.unsupported) log.warn({ config: loaded.source, key }, `config key "${key}" is accepted and has no effect (skiff does not support it)`);

  const storage = storageFromConfig(config, log);
  await storage.ready();

  const scheduler = new Scheduler(log.child({ module: 'scheduler' }));
  const gcSettings: GcSettings = {
    gcDelay: config.storage.gcDelay,
    retention: config.storage.retention,
    dryRun: false,
    log,
    ...(audit ? { audit } : {}),
  };
  const gc = (overrides: Partial<GcSettings> = {}) => collectGarbage(storage.internals, { ...gcSettings, ...overrides });
  if (config.storage.gc && config.storage.gcInterval > 0) {
    scheduler.add({
      name: 'gc',
      intervalMs: config.storage.gcInterval,
      ...(config.storage.gcTimeWindow ? { window: config.storage.gcTimeWindow } : {}),
      maxStartDelayMs: Math.min(60_000, config.storage.gcInterval / 10),
      run: () => gc(),
    });
  }

  const extensions: ExtensionHost = await startExtensions(
    EXTENSIONS,
    config,
    (d) => ({
      config,
      storage,
      log: log.child({ module: d.name }),
      ...(audit ? { audit } : {}),
      schedule: (job) => scheduler.add(job),
    }),
    log,
  );
  const auth = await AuthService.create(config.http, {
    log,
    apiKeyStore: new JsonFileApiKeyStore(stateFilePath(config.storage.rootDirectory, 'apikeys.json')),
  });
  const guard = new Guard({ auth, storage, log: log.child({ module: 'auth' }), ...(audit ? { audit } : {}) });
  const health: Health = { started: true, ready: false };
  // Extension routes first: they are specific paths the API's name patterns must not shadow.
  // Extension routes get the API's access rules: a repository route needs the action its
  // method implies on that repository, any other route an authenticated caller.
  const routes = [
    ...extensions.routes().map((r) => ({ ...r, handler: guard.wrap(r.handler, r.pattern.source.includes('(?<name>') ? { kind: 'repository' } : { kind: 'authenticated' }) })),
    ...authRoutes(auth, guard),
    ...apiRoutes({
      storage,
      log: log.child({ module: 'api' }),
      health,
      extensions: () => extensions.discover(),
      ...(extensions.hooks ? { lookup: extensions.hooks } : {}),
      guard,
    }),
  ];
  const serverOpts: ServerOptions = {
    address: config.http.address,
    port: config.http.port,
    routes,
    hooks: {
      onComplete: requestLogger(log.child({ module: 'http' }), audit),
      onUnexpectedError: (ctx, err) => log.error({ reqId: ctx.id, method: ctx.method, path: ctx.path, err }, 'unexpected error'),
      onTlsReload: (r) =>
        r.ok
          ? log.info({ engine: r.engine, cert: config.http.tls?.cert }, 'TLS certificate reloaded from disk')
          : log.error({ engine: r.engine, cert: config.http.tls?.cert, err: r.error }, 'TLS certificate reload failed; still serving the previous certificate'),
    },
  };
  if (config.http.tls?.cert && config.http.tls.key) {
    serverOpts.tls = { cert: config.http.tls.cert, key: config.http.tls.key, ...(config.http.tls.cacert ? { cacert: config.http.tls.cacert } : {}) };
  }
  if (opts.engine) serverOpts.engine = opts.engine;
  const scrubCfg = config.extensions?.scrub;
  if (scrubCfg?.enable) {
    const scrubLog = log.child({ module: 'scrub' });
    scheduler.add({ name: 'scrub', intervalMs: scrubCfg.interval, maxStartDelayMs: 60_000, run: () => scrub(storage.internals, scrubLog) });
  }
  const server = await startServer(serverOpts);
  health.ready = true;
  scheduler.start();
  if (server.fallbackReason) {
    // Client certificates (mTLS) are the case an operator must not miss: uWS cannot verify
    // or show them, so the whole listener runs on node:https.
    const loud = config.http.tls?.cacert ? 'warn' : 'info';
    log[loud]({ reason: server.fallbackReason }, `HTTP engine: node:http chosen instead of uWS: ${server.fallbackReason}`);
  }
  if (server.copyReason) {
    log.warn({ reason: server.copyReason }, `blob downloads copy through user space instead of sendfile(2): ${server.copyReason}`);
  }
  log.info(
    { engine: server.engine, downloads: server.downloads ?? 'copy', address: config.http.address, port: server.port, root: config.storage.rootDirectory, ms: Math.round(performance.now() - started) },
    'skiff is serving',
  );

  // zot §1.9: the config file is watched; http.auth, http.accessControl (and the rate
  // limits) apply to the next request, without a restart or a dropped connection. A
  // broken file is logged and the running settings stay.
  const reloadLog = log.child({ module: 'config' });
  const reloadConfig = async (): Promise<void> => {
    const next = await loadConfig(loaded.source);
    await auth.reload(next.config.http);
    reloadLog.info({ config: loaded.source }, 'config reloaded: http.auth, http.accessControl and http.ratelimit applied');
  };
  let configWatch: FileWatch | undefined;
  // Sources like `<embedded default>` or `<test>` are not files.
  if (!loaded.source.startsWith('<')) {
    configWatch = watchFiles([loaded.source], () => {
      reloadConfig().catch((err: unknown) => reloadLog.error({ config: loaded.source, err: (err as Error).message }, 'config reload failed; keeping the running settings'));
    });
  }

  let closing: Promise<void> | undefined;
  return {
    auth,
    reloadConfig,
    server,
    storage,
    log,
    port: server.port,
    scheduler,
    gc,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        health.ready = false;
        configWatch?.close();
        await server.close(graceMs);
        await auth.close();
        // Extensions first: closing them aborts their running jobs (a periodic sync may
        // otherwise run for up to syncTimeout), then the scheduler waits for the rest.
        await extensions.close();
        await scheduler.stop();
        await storage.close();
        log.info('skiff stopped');
        log.flush?.();
        audit?.flush?.();
      })();
      return closing;
    },
  };
}
