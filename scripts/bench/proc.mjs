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

/** User and system CPU seconds the process (all its threads) has used so far. */
export function cpuTimes(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after its closing paren are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, sys: Number(fields[12]) / CLK_TCK };
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid) {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

function statusKiB(pid, key) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : NaN;
}

/** Resident set size now, MiB. */
export const rssMiB = (pid) => statusKiB(pid, 'VmRSS') / 1024;

/**
 * The private part of it (RssAnon), MiB: heaps, stacks, buffers. The rest of RSS is file pages
 * (for node, mostly its own binary's code and ICU data), shared with the page cache.
 */
export const anonMiB = (pid) => statusKiB(pid, 'RssAnon') / 1024;

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

/** Busy and total CPU jiffies of the whole machine, from the first line of /proc/stat. */
function machineJiffies() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] || 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Every closed window since the last drain (main.mjs files them with the measurement). */
const closed = [];
export const drainWindows = () => closed.splice(0);

/** Files a span that is not a measurement window (e.g. a server's start) for --profile. */
export const noteSpan = (pid, span, what) => closed.push({ pid, what, span });

/**
 * A measurement window on one server process: CPU seconds used, peak RSS (VmHWM after a
 * reset, cross-checked by sampling VmRSS every 50 ms), wall time.
 */
export function window(pid) {
  const hwmReset = resetPeak(pid);
  const cpu0 = cpuTimes(pid);
  const m0 = machineJiffies();
  const t0 = performance.now();
  const mono0 = Number(process.hrtime.bigint() / 1000n);
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
    /**
     * Ends the window: { seconds, cpu, peakRss, sampledPeakRss, machineBusyCores }; the last is
     * how many cores the whole machine kept busy on average (server + client + anything else).
     */
    close() {
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      const cpu1 = cpuTimes(pid);
      const cpuUser = cpu1.user - cpu0.user;
      const cpuSys = cpu1.sys - cpu0.sys;
      const cpu = cpuUser + cpuSys;
      const m1 = machineJiffies();
      const rss = rssMiB(pid);
      sampled = Math.max(sampled, rss);
      const peakRss = hwmReset ? peakMiB(pid) : sampled;
      const machineBusyCores = (m1.busy - m0.busy) / CLK_TCK / seconds;
      // CLOCK_MONOTONIC µs, the clock of V8's .cpuprofile timestamps (used by --profile).
      const span = [mono0, Number(process.hrtime.bigint() / 1000n)];
      const out = { pid, seconds, cpu, cpuUser, cpuSys, peakRss, sampledPeakRss: sampled, machineBusyCores, span };
      closed.push(out);
      return out;
    },
  };
}
