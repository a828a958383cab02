/**
 * The sync extension (zot `extensions.sync`): pull-through mirroring on demand and periodic
 * mirroring of upstream registries into local storage, over undici. Everything is written
 * through the storage facade; core only knows this module through `extensions/enabled.ts`,
 * so a minimal build carries none of it. Behaviour and choices: README.md beside this file.
 */
import type { SyncConfig } from '../../config/types.ts';
import { readCertDir, readCredentialsFile, type CertDirMaterial, type CredentialsMap } from '../../platform/upstream-files.ts';
import type { ExtensionContext, ExtensionInstance } from '../sdk.ts';
import { UpstreamHealth } from './health.ts';
import { OnDemand } from './ondemand.ts';
import { pollRegistry } from './periodic.ts';
import { parsePins, PINS_VARIABLE } from './pins.ts';
import { RegistrySync } from './registry.ts';
import { Coalescer } from './util.ts';

/** First backoff of a failed upstream when `retryDelay` is not set, and its cap. */
const DOWN_BASE_MS = 10_000;
const DOWN_CAP_MS = 5 * 60_000;
/** The first periodic run starts soon after start (zot syncs at once), not a whole interval later. */
const FIRST_POLL_DELAY_MS = 2_000;

async function start(ctx: ExtensionContext, cfg: SyncConfig): Promise<ExtensionInstance> {
  const { log, storage } = ctx;
  const credentials: CredentialsMap = cfg.credentialsFile ? await readCredentialsFile(cfg.credentialsFile) : {};
  const pins = parsePins(process.env[PINS_VARIABLE]);
  if (pins.size > 0) log.info({ pins: Object.fromEntries(pins) }, `${PINS_VARIABLE}: upstream hosts pinned to addresses`);
  const closing = new AbortController();
  const inflight = new Coalescer<void>();
  const registries: RegistrySync[] = [];
  for (const [i, r] of cfg.registries.entries()) {
    if (r.urls.length === 0) continue;
    const tls: CertDirMaterial = r.certDir ? await readCertDir(r.certDir) : {};
    const health = new UpstreamHealth(r.retryDelay ?? DOWN_BASE_MS, r.maxRetryDelay ?? DOWN_CAP_MS);
    registries.push(new RegistrySync(r, i, { storage, log, health, credentials, tls, inflight, pins }));
  }

  const polls = new Map<number, Promise<unknown>>();
  const poll = (reg: RegistrySync): Promise<unknown> => {
    // One run per registry entry at a time, whoever starts it (the scheduler or the first run).
    const running = polls.get(reg.id);
    if (running) return running;
    const p = pollRegistry(reg, storage, log.child({ registry: reg.id }), closing.signal)
      .catch((err: unknown) => {
        if (!closing.signal.aborted) throw err;
      })
      .finally(() => polls.delete(reg.id));
    polls.set(reg.id, p);
    return p;
  };
  const timers: NodeJS.Timeout[] = [];
  for (const reg of registries) {
    if (!reg.cfg.pollInterval || reg.cfg.content.length === 0) continue;
    ctx.schedule({ name: `sync:${reg.id}`, intervalMs: reg.cfg.pollInterval, run: () => poll(reg) });
    const t = setTimeout(() => void poll(reg).catch((err: unknown) => log.error({ registry: reg.id, err }, 'periodic sync failed')), FIRST_POLL_DELAY_MS);
    t.unref();
    timers.push(t);
  }

  const onDemand = new OnDemand(registries, log, closing.signal);
  log.info({ registries: registries.length, onDemand: registries.filter((r) => r.cfg.onDemand).length, periodic: timers.length }, 'sync ready');
  return {
    ...(registries.some((r) => r.cfg.onDemand) ? { hooks: onDemand } : {}),
    async close() {
      for (const t of timers) clearTimeout(t);
      closing.abort(new Error('registry closing'));
      await Promise.allSettled([onDemand.settle(), ...polls.values()]);
      await Promise.all(registries.map((r) => r.close()));
    },
  };
}

/** Starts sync for a config's `extensions.sync` (called by descriptor.ts on demand). */
export const startSync = start;
