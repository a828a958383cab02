// Shared state of one bench run: the scratch directory, the seeded stores (made once per server
// and reused by every workload that reads them), blob content, and a server-scoped helper.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from './servers.mjs';
import { seedManifests, seedBlobs } from './seed.mjs';
import { BlobSource, randomBytesOf } from './registry-client.mjs';

export const MiB = 1 << 20;
export const GiB = 1 << 30;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function createContext({ top, work, plan, log }) {
  const memo = new Map();
  const once = (key, fn) => {
    if (!memo.has(key)) memo.set(key, fn());
    return memo.get(key);
  };
  const largest = Math.max(plan.bigBlob, plan.fanout.blob, ...plan.mixed.sizes.map(([s]) => s));
  let base = null;

  const ctx = {
    top,
    work,
    plan,
    log,
    seeding: [],

    /** A directory for `kind`'s roots, configs and logs. */
    dir(kind) {
      const d = join(work, kind.name);
      mkdirSync(d, { recursive: true });
      return d;
    },

    /** Starts `kind` on `root`, runs fn(server), always stops it. */
    async withServer(kind, root, fn) {
      const server = await startServer(kind, { top, root, dir: ctx.dir(kind) });
      try {
        return await fn(server);
      } finally {
        await server.stop();
      }
    },

    /** A fresh, empty root (removed first if a previous measurement left one). */
    freshRoot(kind, name) {
      const root = join(ctx.dir(kind), name);
      rmSync(root, { recursive: true, force: true });
      return root;
    },

    removeRoot(root) {
      rmSync(root, { recursive: true, force: true });
    },

    /** Random content of `size` bytes; every source shares one random buffer. */
    source(size) {
      return once(`source:${size}`, () => {
        base ??= randomBytesOf(largest);
        return new BlobSource(size, base);
      });
    },

    /** The manifest store (plan.store; 10,000 manifests in a full run), seeded once via the API. */
    manifestStore(kind) {
      return once(`store:${kind.name}`, async () => {
        const root = ctx.freshRoot(kind, 'manifests');
        const t0 = performance.now();
        const info = await ctx.withServer(kind, root, (s) => seedManifests(s.origin, plan.store));
        const seconds = (performance.now() - t0) / 1000;
        ctx.seeding.push({ server: kind.name, store: 'manifests', seconds, ...info });
        log(`  seeded ${kind.name} manifest store: ${info.manifests} manifests in ${info.repositories} repositories (${seconds.toFixed(1)} s)`);
        return { root, ...info };
      });
    },

    /** The blob store: one plan.bigBlob blob, the fan-out blob and the mixed workload's pools. */
    blobStore(kind) {
      return once(`blobs:${kind.name}`, async () => {
        const root = ctx.freshRoot(kind, 'blobs');
        const big = ctx.source(plan.bigBlob).next();
        const fan = ctx.source(plan.fanout.blob).next();
        const mixed = plan.mixed.sizes.map(([size]) => Array.from({ length: plan.mixed.pool }, () => ctx.source(size).next()));
        const t0 = performance.now();
        await ctx.withServer(kind, root, async (s) => {
          await seedBlobs(s.origin, 'bench/pull', [big]);
          await seedBlobs(s.origin, 'bench/fanout', [fan]);
          await seedBlobs(s.origin, 'bench/mixed', mixed.flat());
        });
        const seconds = (performance.now() - t0) / 1000;
        ctx.seeding.push({ server: kind.name, store: 'blobs', seconds });
        log(`  seeded ${kind.name} blob store (${seconds.toFixed(1)} s)`);
        return { root, big, fan, mixed };
      });
    },
  };
  return ctx;
}
