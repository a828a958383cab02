// Turns the raw measurements into medians and ratios, and prints them as one plain-text table.
export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** One entry per table row: medians per server and the skiff/distribution ratio. */
export function summarise(workloads, plan, runs) {
  const out = [];
  for (const w of workloads) {
    const mine = runs.filter((r) => r.workload === w.name);
    out.push({ group: w.title, workload: w.name });
    for (const row of w.rows(plan)) {
      const samples = {};
      for (const server of ['skiff', 'distribution']) {
        samples[server] = mine.filter((r) => r.server === server && r.values).map((r) => r.values[row.id]);
      }
      const skiff = median(samples.skiff);
      const distribution = median(samples.distribution);
      out.push({ ...row, workload: w.name, skiff, distribution, ratio: skiff / distribution, samples });
    }
  }
  return out;
}

export function fmt(v) {
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

const ratioText = (r) => (Number.isFinite(r) ? `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}x` : '-');

/** The table: header lines, then one line per row, grouped by workload. */
export function table(summary, header) {
  const cols = [
    ['metric', 52, 'l'],
    ['unit', 9, 'l'],
    ['skiff', 11, 'r'],
    ['distribution', 13, 'r'],
    ['skiff/dist', 11, 'r'],
  ];
  const line = (cells) =>
    cells
      .map((c, i) => (cols[i][2] === 'l' ? String(c).padEnd(cols[i][1]) : String(c).padStart(cols[i][1])))
      .join(' ')
      .trimEnd();
  const width = cols.reduce((a, c) => a + c[1] + 1, -1);
  const lines = [...header, '', line(cols.map((c) => c[0])), '-'.repeat(width)];
  for (const r of summary) {
    if (r.id === undefined) {
      lines.push(`[${r.group}]`);
      continue;
    }
    const unit = `${r.unit} ${r.better === 'higher' ? '↑' : '↓'}`;
    lines.push(line([`  ${r.label}`, unit, fmt(r.skiff), fmt(r.distribution), ratioText(r.ratio)]));
  }
  lines.push('-'.repeat(width));
  lines.push('↑ higher is better, ↓ lower is better; skiff/dist is the ratio of the medians.');
  return lines.join('\n');
}

function clients(g) {
  const get = g.GET.split(' (')[0];
  const head = g.HEAD.split(' (')[0];
  return get === head ? `${get} for request rates` : `${get} for GET rows, ${head} for HEAD rows`;
}

/** The whole printed report: header lines, the table, the targets. */
export function renderReport(summary, targets, meta, runs, finished) {
  const m = meta.machine;
  const loads = runs.filter((r) => r.loadavg).map((r) => r.loadavg.l1);
  const busy = meta.loadavgAtStart.l1 > 0.5 || Math.max(...loads) > 2.5;
  const seconds = (finished - new Date(meta.startedAt)) / 1000;
  const header = [
    `skiff bench: ${meta.plan.name} run, ${meta.plan.repeats} repeat(s) alternating skiff/distribution, medians; ${meta.startedAt} (${seconds.toFixed(0)} s)`,
    `machine: ${m.cores} cores (${m.cpuModel}), ${m.memGiB} GiB, Linux ${m.kernel}, node ${m.node}`,
    `load average (1 min) at start ${meta.loadavgAtStart.l1}, before phases ${Math.min(...loads)}..${Math.max(...loads)}` +
      (busy ? '  <- other work was running: expect noise' : ''),
    `skiff ${meta.versions.skiff}, ${meta.versions.skiffEngine === 'uws' ? 'uWebSockets.js' : 'node:http'} engine; distribution ${meta.versions.distribution}`,
    `both on 127.0.0.1 with roots in ${meta.scratch} (page cache warm: stores are seeded just before)`,
    `note: the clients (${clients(meta.generators)}, node raw-socket clients for blobs) run on the`,
    `      same ${m.cores} cores as the server under test and take CPU from it; server CPU is from /proc/<pid>/stat.`,
  ];
  const text = [table(summary, header)];
  if (targets.length) {
    text.push('', 'targets:');
    for (const t of targets) text.push(`  ${t.pass ? 'PASS' : 'MISS'}  ${t.text.padEnd(44)} ${t.shown}`);
  }
  return text.join('\n');
}
