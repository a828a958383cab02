// The performance targets, checked against a run's medians (rows absent from the run,
// e.g. with --only, are skipped). Ratios compare skiff with distribution in the same run.
const ratio = (id, min) => ({ id, text: `${id} ≥ ${min}x distribution`, check: (r) => r.ratio >= min, shown: (r) => `${r.ratio.toFixed(2)}x` });
const most = (id, max, unit) => ({ id, text: `${id} (skiff) ≤ ${max} ${unit}`, check: (r) => r.skiff <= max, shown: (r) => `${r.skiff.toFixed(1)} ${unit}` });
const below = (id, max, unit) => ({ id, text: `${id} (skiff) < ${max} ${unit}`, check: (r) => r.skiff < max, shown: (r) => `${r.skiff.toFixed(1)} ${unit}` });

export const TARGETS = [
  ratio('manifest.head.c64.rps', 10),
  ratio('manifest.get.c64.rps', 10),
  most('manifest.head.c64.cpu', 150, 'µs/req'),
  most('manifest.get.c64.cpu', 150, 'µs/req'),
  ratio('push.mono.mibs', 3),
  ratio('push.chunked.mibs', 3),
  ratio('pull.mibs', 1),
  ratio('fanout.mibs', 1.5),
  most('fanout.peak', 80, 'MiB'),
  below('cold.empty', 250, 'ms'),
  below('cold.store', 250, 'ms'),
  below('idle.empty', 60, 'MiB'),
  below('idle.store', 60, 'MiB'),
];

/** [{ text, shown, pass }] for every target whose row is in the summary. */
export function checkTargets(summary) {
  const byId = new Map(summary.filter((r) => r.id).map((r) => [r.id, r]));
  const out = [];
  for (const t of TARGETS) {
    const r = byId.get(t.id);
    if (!r || !Number.isFinite(r.skiff)) continue;
    out.push({ id: t.id, text: t.text, shown: t.shown(r), pass: t.check(r) });
  }
  return out;
}
