#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof dist/skiff.mjs serve ...`): the functions
// and the files with the most self time, as percentages of the samples.
//   node scripts/bench/cpuprofile-top.mjs <file.cpuprofile> [--top 25] [--from ms] [--to ms]
// --from/--to keep only samples in that window (ms since the profile started), e.g. to look at
// a workload and not at startup. --callers <name> prints the call stacks leading to the
// functions whose name contains <name>, with the time spent in them (self + below).
// --bench <bench-*.json> keeps only samples inside the measurement windows of the run that
// wrote the profile (matched by the NN-<workload>-r<rep>.cpuprofile name --profile gives it);
// --window <i> keeps only the i-th of them (0-based, in the order the workload measured).
// Percentages are of busy time: samples where the thread was not (idle).
import { readFileSync, readdirSync, appendFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

/**
 * Self time per function and per file of one profile, as text. `from`/`to` (ms since the
 * profile started) keep only the samples in that window; `spans` ([start, end] pairs in
 * CLOCK_MONOTONIC µs, V8's own timestamps) keep only samples inside one of them.
 */
export function summariseProfile(file, { top = 25, from = -Infinity, to = Infinity, spans = null, callers = null } = {}) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Sample i lasted timeDeltas[i + 1] µs (V8 records the delta before each sample).
  const selfUs = new Map();
  let t = prof.startTime;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i];
    const rel = (t - prof.startTime) / 1000;
    const dur = prof.timeDeltas[i + 1] ?? 0;
    if (rel < from || rel > to) continue;
    if (spans && !spans.some(([a, b]) => t >= a && t <= b)) continue;
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + dur);
    if (byId.get(prof.samples[i]).callFrame.functionName !== '(idle)') total += dur;
  }
  const idleUs = [...selfUs].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  const shortUrl = (u) => (u ? u.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/') : '');
  const fnKey = (cf) => `${cf.functionName || '(anonymous)'}  ${shortUrl(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
  const fileKey = (cf) => shortUrl(cf.url) || `(${cf.functionName || 'native'})`;
  const fns = new Map();
  const files = new Map();
  const stacks = new Map();
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame;
    if (cf.functionName === '(idle)') continue;
    if (callers) {
      const frames = [];
      let hit = false;
      for (let n = id; n !== undefined; n = parent.get(n)) {
        const f = byId.get(n).callFrame;
        if (f.functionName === '(root)') break;
        if (!hit && !f.functionName.includes(callers)) continue;
        hit = true;
        frames.push(`${f.functionName || '(anonymous)'}${f.url ? ` ${shortUrl(f.url).split('/').pop()}:${f.lineNumber + 1}` : ''}`);
      }
      if (hit) {
        const key = frames.slice(0, 10).join(' < ');
        stacks.set(key, (stacks.get(key) ?? 0) + us);
      }
    }
    fns.set(fnKey(cf), (fns.get(fnKey(cf)) ?? 0) + us);
    files.set(fileKey(cf), (files.get(fileKey(cf)) ?? 0) + us);
  }
  const lines = [`${file}: ${(total / 1000).toFixed(1)} ms busy, ${(idleUs / 1000).toFixed(1)} ms idle`];
  const show = (title, m) => {
    lines.push(title);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      lines.push(`${((100 * us) / total).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(1).padStart(9)} ms  ${k}`);
    }
  };
  show('  self time by function:', fns);
  show('  self time by file:', files);
  if (callers) show(`  stacks through "${callers}" (innermost first):`, stacks);
  return lines.join('\n');
}

/**
 * For `--profile` runs: summarises the .cpuprofile files in `dir` that are not in `before`,
 * keeping only samples inside `windows` (measurement windows, or spawn to first 200), logs
 * the summaries and appends them to dir/top.txt.
 */
export function reportNewProfiles(dir, before, windows, log) {
  const spans = windows.map((w) => w.span);
  const note = spans.length ? ' (samples inside the measurement windows, or spawn to first 200, only)' : ' (whole process)';
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile') && !before.has(n))) {
    let text;
    try {
      text = summariseProfile(join(dir, f), { top: 15, spans: spans.length ? spans : null });
    } catch (err) {
      text = `${f}: unreadable (${err.message})`;
    }
    text = text.replace(/\n/, `${note}\n`);
    appendFileSync(join(dir, 'top.txt'), `${text}\n\n`);
    log(text);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values: opt, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, from: { type: 'string' }, to: { type: 'string' }, callers: { type: 'string' }, bench: { type: 'string' }, window: { type: 'string' } },
  });
  if (positionals.length !== 1) {
    console.error('usage: cpuprofile-top.mjs <file.cpuprofile> [--top N] [--from ms] [--to ms] [--callers name] [--bench bench.json [--window i]]');
    process.exit(2);
  }
  let spans = null;
  if (opt.bench) {
    const m = /^\d+-(.+)-r(\d+)\.cpuprofile$/.exec(basename(positionals[0]));
    const run = JSON.parse(readFileSync(opt.bench, 'utf8')).runs.find((r) => m && r.server === 'skiff' && r.workload === m[1] && r.rep === Number(m[2]));
    spans = run?.windows?.map((w) => w.span) ?? null;
    if (spans && opt.window !== undefined) spans = [spans[Number(opt.window)]].filter(Boolean);
    if (!spans?.length) console.error(`no measurement windows for ${positionals[0]} in ${opt.bench}; using every sample`);
  }
  console.log(
    summariseProfile(positionals[0], {
      spans,
      top: Number(opt.top),
      from: opt.from === undefined ? -Infinity : Number(opt.from),
      to: opt.to === undefined ? Infinity : Number(opt.to),
      callers: opt.callers ?? null,
    }),
  );
}
