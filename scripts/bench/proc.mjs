// Server-side figures read straight from /proc: CPU time, resident memory, machine load.
// Reading /proc costs the server nothing, so these numbers are not disturbed by the client.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second, the unit of utime/stime in /proc/<pid>/stat (`getconf CLK_TCK`). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds the process (all its threads) has used so far. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after its closing paren are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLK_TCK;
}

function statusKiB(pid, key) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : NaN;
}

/** Resident set size now, MiB. */
export const rssMiB = (pid) => statusKiB(pid, 'VmRSS') / 1024;

/** Peak resident set size since start or the last `resetPeak`, MiB. */
export const peakMiB = (pid) => statusKiB(pid, 'VmHWM') / 1024;

/**
 * Resets VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux ≥ 4.0, needs
 * ownership of the process), so each workload gets its own peak. Returns false when the kernel
 * refuses; the RSS sampler below still gives a peak then.
 */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The 1, 5 and 15 minute load averages and the running/total task counts. */
export function loadavg() {
  const [l1, l5, l15, tasks] = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/);
  return { l1: Number(l1), l5: Number(l5), l15: Number(l15), tasks };
}

/**
 * A measurement window on one server process: CPU seconds used, peak RSS (VmHWM after a
 * reset, cross-checked by sampling VmRSS every 50 ms), wall time.
 */
export function window(pid) {
  const hwmReset = resetPeak(pid);
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  let sampled = rssMiB(pid);
  const timer = setInterval(() => {
    try {
      sampled = Math.max(sampled, rssMiB(pid));
    } catch {
      /* the process has gone; the caller will notice */
    }
  }, 50);
  timer.unref();
  return {
    /** Ends the window: { seconds, cpu, peakRss, sampledPeakRss }. */
    close() {
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(pid) - cpu0;
      const rss = rssMiB(pid);
      sampled = Math.max(sampled, rss);
      const peakRss = hwmReset ? peakMiB(pid) : sampled;
      return { seconds, cpu, peakRss, sampledPeakRss: sampled };
    },
  };
}
