// How big and how long each workload is: the full run (about 10 minutes on 2 cores) and the
// --quick smoke run (about 1 minute, only to check that the bench still works end to end).
const MiB = 1 << 20;

export const FULL = {
  name: 'full',
  repeats: 3,
  /** The "10,000 manifests" store: repos × tagsPerRepo + tagRepoTags; 1,001 repositories. */
  store: { repos: 1000, tagsPerRepo: 9, tagRepoTags: 1000 },
  /**
   * Idle RSS is read this long after the first 200: past skiff's release of start-up's memory
   * (within 2 s) and V8's own memory reducer (~8 s after start-up's last full GC), so it is the
   * memory a device idles at, not start-up's high-water mark.
   */
  idleMs: 15000,
  bigBlob: 256 * MiB,
  /**
   * Per pull measurement: seconds of back-to-back pulls of the big blob (hload), or pulls of it
   * (node client). One 256 MiB pull lasts only 0.1-0.2 s here and moved by ±30% between rounds.
   */
  pullSeconds: 3,
  pullRounds: 5,
  chunk: 8 * MiB,
  /** Seconds per request-rate measurement, and of the warm-up before a server's first one. */
  rateSeconds: 3,
  warmSeconds: 1,
  concurrencies: [1, 16, 64],
  listConcurrency: 8,
  catalogN: 1000,
  fanout: { clients: 32, blob: 16 * MiB, rounds: 3, seconds: 3 },
  /** Mixed 75% pulls / 25% pushes per blob size (decimal MB, as zb), a fixed op count each. */
  mixed: { concurrency: 8, pullFraction: 0.75, pool: 4, sizes: [[1e6, 200], [10e6, 64], [100e6, 16]] },
};

export const QUICK = {
  ...FULL,
  name: 'quick',
  repeats: 1,
  store: { repos: 100, tagsPerRepo: 9, tagRepoTags: 100 },
  idleMs: 1500,
  bigBlob: 32 * MiB,
  pullSeconds: 1,
  pullRounds: 1,
  /** wrk counts whole seconds. */
  rateSeconds: 1,
  warmSeconds: 1,
  catalogN: 100,
  fanout: { clients: 32, blob: 4 * MiB, rounds: 1, seconds: 1 },
  mixed: { concurrency: 8, pullFraction: 0.75, pool: 2, sizes: [[1e6, 16], [10e6, 8], [100e6, 4]] },
};
