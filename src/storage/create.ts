import type { Logger } from 'pino';
import { KeyedMutex } from '../platform/locks.ts';
import { Layout } from './layout/index.ts';
import { RegistryIndex } from './index/index.ts';
import { BlobService } from './blobs.ts';
import { CatalogService } from './catalog.ts';
import { ManifestService } from './manifests.ts';
import { reconcile } from './reconcile.ts';
import { convertDedupe, type DedupeReport } from './dedupe.ts';
import { RepoGuard } from './repos.ts';
import type { Storage } from './types.ts';
import { UploadService } from './uploads.ts';
import { TouchLog } from './touches.ts';
import { SpaceGuard } from './space.ts';
import { FreeSpaceWatcher } from '../platform/disk.ts';
import { sharedHashThread } from '../platform/hash-thread.ts';
import { sharedMemoryTrim } from '../platform/memory-trim.ts';
import { nativeDirectIo } from '../platform/native.ts';
import { nativeHasher } from '../platform/native-hash.ts';

/** What the storage engine needs from the config (zot's `storage` section). */
export interface StorageOptions {
  rootDirectory: string;
  /** zot `storage.dedupe` (default true). */
  dedupe: boolean;
  /** zot `storage.commit`: fsync every write (default false). */
  commit: boolean;
  /** zot `storage.maxRepos` (0 = no quota). */
  maxRepos: number;
  /** skiff `storage.minFreeSpace`: bytes below which uploads are refused (0 = off). */
  minFreeSpace?: number;
  log: Logger;
}

/** The engine's internals, for lifecycle jobs (GC, scrub) that work below the facade. */
export interface StorageInternals {
  layout: Layout;
  index: RegistryIndex;
  locks: KeyedMutex;
  touches: TouchLog;
  /** The background dedupe conversion started by `ready()` (null result: nothing to do). */
  dedupeConversion?: Promise<DedupeReport | null>;
  /** The background reconcile after a clean shutdown (see ready()). */
  reconciling?: Promise<void>;
}


/** Index setting: 'clean' after a close, 'running' while open (a crash leaves it so). */
const SHUTDOWN = 'shutdown';
/**
 * Builds the storage engine over a root directory. The index opens at once; `ready()`
 * reconciles it with the disk (fast when current) and must resolve before serving.
 */
export function createStorage(opts: StorageOptions): Storage & { internals: StorageInternals } {
  // The addon's upload calls are looked up at the first append, not during start-up.
  const layout = new Layout(opts.rootDirectory, { fsync: opts.commit }, () => nativeDirectIo());
  const index = RegistryIndex.open(layout.paths.stateDir());
  const locks = new KeyedMutex();
  const touches = new TouchLog();
  const watcher = opts.minFreeSpace ? new FreeSpaceWatcher(opts.rootDirectory) : null;
  const space = new SpaceGuard(watcher, opts.minFreeSpace ?? 0);
  const repos = new RepoGuard(layout, index, opts.maxRepos);
  const log = opts.log.child({ module: 'storage' });
  const memoryTrim = sharedMemoryTrim();
  let readyP: Promise<void> | undefined;
  let unreconciled = false;
  const internals: StorageInternals = { layout, index, locks, touches };
  return {
    manifests: new ManifestService(layout, index, locks, repos),
    blobs: new BlobService(layout, index, locks, repos, opts.dedupe, touches),
    uploads: new UploadService(layout, index, locks, repos, opts.dedupe, touches, space, { hashThread: sharedHashThread(), nativeHash: (algorithm) => nativeHasher(algorithm), memoryTrim }),
    catalog: new CatalogService(index),
    internals,
    recordPull: (repo, digest) => index.recordPull(repo, digest),
    ready() {
      readyP ??= (async () => {
        const started = performance.now();
        await layout.repos.ensureRoot();
        if (watcher) await watcher.start();
        // After a clean shutdown the index matched the disk when it closed; only a layout
        // changed while skiff was down (copied in, edited) can differ. Serve from the index
        // at once and reconcile in the background, each repository under its lock, so a
        // start does not grow with the store. After a crash, or with a new index, the disk
        // is read before the first request, as always.
        const clean = !index.fresh && index.setting(SHUTDOWN) === 'clean';
        await index.saveSetting(SHUTDOWN, 'running');
        const reconciling = reconcile(layout, index, log, clean ? locks : undefined).then((r) =>
          log.info({ ...r, fresh: index.fresh, background: clean, ms: Math.round(performance.now() - started) }, 'index reconciled with disk'),
        );
        // The reconcile is start-up's heaviest work (it doubles V8's young generation on a
        // store of 10,000 manifests): once it is done, that memory goes back at the first
        // gap between requests instead of whenever V8's reducer gets round to it.
        void reconciling.then(
          () => {
            index.dropMappedPages();
            memoryTrim.afterStartup();
          },
          () => undefined,
        );
        if (clean) {
          internals.reconciling = reconciling.catch((err: unknown) => {
            unreconciled = true;
            log.error({ err }, 'background reconcile failed; the index is served as it was, and read from disk at the next start');
          });
        } else {
          await reconciling;
        }
        internals.dedupeConversion = convertDedupe(internals, opts.dedupe, opts.log.child({ module: 'dedupe' })).catch((err: unknown) => {
          log.error({ err }, 'dedupe conversion failed; it runs again at the next start');
          return null;
        });
      })();
      return readyP;
    },
    async settled() {
      await readyP;
      await internals.reconciling;
    },
    async close() {
      watcher?.stop();
      await internals.reconciling;
      await internals.dedupeConversion;
      // Only a close that got here marks the index as matching the disk (see ready()).
      if (!unreconciled) await index.saveSetting(SHUTDOWN, 'clean');
      await index.close();
    },
  };
}
