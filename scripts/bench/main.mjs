// The bench run: for each selected workload, seed what it reads, then measure skiff and
// distribution alternately (skiff, distribution, skiff, ... for plan.repeats rounds), and
// finally print one table of medians and write the raw figures as JSON.
import { mkdtempSync, mkdirSync, writeFileSync, cpSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir, cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SERVERS, SKIFF, DISTRIBUTION } from './servers.mjs';
import { createContext } from './harness.mjs';
import { loadavg, drainWindows } from './proc.mjs';
import { reportNewProfiles } from './cpuprofile-top.mjs';
import { FULL, QUICK } from './plan.mjs';
import { summarise, renderReport, fmt } from './report.mjs';
import { checkTargets } from './targets.mjs';
import { generatorFor, setGenerator } from './rate.mjs';
import coldStart from './workloads/cold-start.mjs';
import push from './workloads/push.mjs';
import pull from './workloads/pull.mjs';
import manifest from './workloads/manifest.mjs';
import fanout from './workloads/fanout.mjs';
import listing from './workloads/listing.mjs';
import mixed from './workloads/mixed.mjs';

const GENERATOR_NAMES = {
  hload: 'hload (scripts/bench/hload.c, one thread, epoll)',
  wrk: 'wrk 4.1 (-t1)',
  node: 'node raw-socket (loadgen.mjs)',
};

const WORKLOADS = [coldStart, push, pull, manifest, fanout, listing, mixed];

const USAGE = `usage: npm run bench -- [--quick] [--only <names>] [--repeats <n>] [--dir <path>] [--keep] [--out <file>] [--profile]
  --quick          ~1 minute smoke run (small sizes, 1 repeat): checks that the bench works
  --only <names>   comma-separated workload names or regexes: ${WORKLOADS.map((w) => w.name).join(', ')}
  --repeats <n>    rounds of alternating measurements (default 3, quick 1); the table shows medians
  --dir <path>     scratch directory for the servers' roots (default: a new one under ${tmpdir()})
  --keep           keep the scratch directory
  --out <file>     JSON output (default bench-results/bench-<timestamp>.json)
  --engine <e>     skiff's HTTP engine: uws (TLS listeners) or node (plain HTTP, the default
                   listener); \`npm run bench\` runs both unless given one
  --gen <g>        request-rate client: auto (default: hload, the bench's C generator, built with
                   cc), wrk (wrk -t1 for GET, node for HEAD) or node (raw-socket node client)
  --profile        run skiff under node --cpu-prof; writes bench-results/profiles-<timestamp>/ and prints
                   each profile's top self-time functions within the measurement windows (the
                   profiler slows skiff down: use for diagnosis, not for the figures)`;

function machine() {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    kernel: release(),
    node: process.version,
  };
}

export async function main(top, argv) {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      repeats: { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      out: { type: 'string' },
      profile: { type: 'boolean', default: false },
      gen: { type: 'string', default: 'auto' },
      engine: { type: 'string', default: 'uws' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const log = (msg) => process.stderr.write(`${msg}\n`);
  setGenerator(args.gen, log);
  if (args.engine !== 'uws' && args.engine !== 'node') {
    console.error(`--engine must be uws or node\n${USAGE}`);
    return 2;
  }
  SKIFF.engine = args.engine;
  const plan = { ...(args.quick ? QUICK : FULL) };
  if (args.repeats) plan.repeats = Math.max(1, Number(args.repeats) | 0);
  const patterns = args.only ? args.only.split(',').map((p) => new RegExp(p.trim())) : null;
  const selected = WORKLOADS.filter((w) => !patterns || patterns.some((re) => re.test(w.name)));
  if (selected.length === 0) {
    console.error(`--only ${args.only} matches no workload\n${USAGE}`);
    return 2;
  }

  if (args.dir) mkdirSync(args.dir, { recursive: true });
  const work = args.dir ? mkdtempSync(join(args.dir, 'run-')) : mkdtempSync(join(tmpdir(), 'skiff-bench-'));
  // Run a private copy of the bundle (same directory, so node_modules still resolve): other
  // builds during the run must not change the skiff being measured. The entry imports its
  // chunks from ./skiff-chunks/, which every build replaces (a build by another job mid-run
  // made each later skiff start fail), so the chunks are copied too and the entry pointed
  // at the copy.
  const bundle = join(top, 'dist', 'skiff-bench.mjs');
  const chunks = join(top, 'dist', 'skiff-bench-chunks');
  rmSync(chunks, { recursive: true, force: true });
  cpSync(join(top, 'dist', 'skiff-chunks'), chunks, { recursive: true });
  writeFileSync(bundle, readFileSync(join(top, 'dist', 'skiff.mjs'), 'utf8').replaceAll('./skiff-chunks/', './skiff-bench-chunks/'));
  SKIFF.bundle = bundle;
  const ctx = createContext({ top, work, plan, log });
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const profileDir = args.profile ? join(top, 'bench-results', `profiles-${stamp}`) : null;
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    SKIFF.profileDir = profileDir;
  }
  const meta = {
    startedAt: started.toISOString(),
    plan,
    argv,
    machine: machine(),
    versions: {
      skiff: SKIFF.version(top),
      skiffEngine: SKIFF.engine,
      skiffBundleSha256: createHash('sha256').update(readFileSync(bundle)).digest('hex'),
      distribution: DISTRIBUTION.version(),
    },
    generators: {
      GET: GENERATOR_NAMES[generatorFor('GET')],
      HEAD: GENERATOR_NAMES[generatorFor('HEAD')],
      blobs: 'node raw-socket keep-alive client (rawhttp.mjs)',
    },
    scratch: work,
    profileDir,
    loadavgAtStart: loadavg(),
  };
  // Ctrl-C: the exit hook in servers.mjs kills the servers; the scratch roots go too.
  process.once('SIGINT', () => {
    if (!args.keep) spawnSync('rm', ['-rf', work]);
    process.exit(130);
  });
  log(`skiff bench: ${plan.name} run, ${plan.repeats} repeat(s), workloads: ${selected.map((w) => w.name).join(', ')}; scratch ${work}`);

  const runs = [];
  let failures = 0;
  try {
    for (const w of selected) {
      log(`[${w.name}] ${w.title}`);
      SKIFF.profileLabel = `${w.name}-prepare`;
      try {
        await w.prepare?.(ctx, SERVERS);
      } catch (err) {
        failures++;
        log(`  prepare failed: ${err.stack ?? err}`);
        runs.push({ workload: w.name, phase: 'prepare', error: String(err.message ?? err) });
        continue;
      }
      for (let rep = 1; rep <= plan.repeats; rep++) {
        for (const kind of SERVERS) {
          const record = { workload: w.name, server: kind.name, rep, at: new Date().toISOString(), loadavg: loadavg() };
          const t0 = performance.now();
          SKIFF.profileLabel = `${w.name}-r${rep}`;
          const profilesBefore = profileDir ? new Set(readdirSync(profileDir)) : null;
          drainWindows();
          try {
            record.values = await w.measure(ctx, kind, rep);
          } catch (err) {
            failures++;
            record.error = String(err.stack ?? err);
            log(`  ${kind.name} #${rep} failed: ${err.stack ?? err}`);
          }
          record.seconds = (performance.now() - t0) / 1000;
          record.windows = drainWindows();
          runs.push(record);
          if (profilesBefore && kind === SKIFF) reportNewProfiles(profileDir, profilesBefore, record.windows, log);
          if (record.values) {
            const brief = Object.entries(record.values)
              .slice(0, 4)
              .map(([k, v]) => `${k}=${fmt(v)}`)
              .join(' ');
            log(`  ${kind.name.padEnd(12)} #${rep} ${brief}${Object.keys(record.values).length > 4 ? ' …' : ''} (${record.seconds.toFixed(1)} s)`);
          }
        }
      }
    }
  } catch (err) {
    if (!args.keep) spawnSync('rm', ['-rf', work]);
    throw err;
  }

  const finished = new Date();
  const summary = summarise(selected, plan, runs);
  const targets = checkTargets(summary);
  console.log(renderReport(summary, targets, meta, runs, finished));

  const outFile = args.out ?? join(top, 'bench-results', `bench-${stamp}.json`);
  mkdirSync(join(outFile, '..'), { recursive: true });
  writeFileSync(
    outFile,
    JSON.stringify({ meta: { ...meta, finishedAt: finished.toISOString(), seeding: ctx.seeding }, summary, targets, runs }, null, 2) + '\n',
  );
  console.log(`\nraw figures: ${outFile}`);
  if (profileDir) console.log(`profiles: ${profileDir} (summaries in top.txt)`);
  if (args.keep) log(`scratch directory kept: ${work}`);
  // rm(1) is much faster than fs.rmSync on the ~100,000 small files of the seeded stores.
  else spawnSync('rm', ['-rf', work]);
  if (failures) console.error(`${failures} measurement(s) failed; see the log above and "runs" in the JSON`);
  return failures ? 1 : 0;
}
