import type { Logger } from 'pino';
import { inGcTimeWindow, msUntilGcTimeWindow } from '../config/index.ts';
import type { GcTimeWindow } from '../config/types.ts';

/** A background job run every `intervalMs` (GC, scrub, sync polls, ...). */
export interface Job {
  name: string;
  intervalMs: number;
  /** A run may only START inside this UTC window (zot's gcTimeWindow); it then runs to the end. */
  window?: GcTimeWindow;
  /** First run after a random delay up to this (zot randomises task starts so boxes do not align). */
  maxStartDelayMs?: number;
  run(): Promise<unknown>;
}

interface Entry {
  job: Job;
  /** On the monotonic clock (performance.now): intervals are durations, and a device without
   *  a real-time clock jumps decades when NTP first answers. */
  nextDue: number;
  running: Promise<void> | undefined;
}

/** setTimeout's longest delay (2^31-1 ms, ~24.8 days); longer waits re-arm on the way. */
const MAX_DELAY_MS = 2_147_483_647;

/**
 * The one scheduler: a single unref'd timer armed for the earliest due job, so an idle
 * device wakes only when something runs (zot's intervals are hours). Jobs never overlap
 * themselves. Intervals are zot durations, not cron fields; node-cron was the clock until
 * its per-tick Intl work was measured mapping ICU into every process (6.1 MiB of the node
 * binary's pages plus 1.7 MiB private, of a 60 MiB idle budget) and waking it every minute.
 */
export class Scheduler {
  private entries: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly log: Logger) {}

  add(job: Job): void {
    const delay = Math.floor(Math.random() * (job.maxStartDelayMs ?? 0));
    this.entries.push({ job, nextDue: performance.now() + job.intervalMs + delay, running: undefined });
    this.log.info({ job: job.name, everyMs: job.intervalMs, window: job.window?.text }, 'job scheduled');
    this.arm();
  }

  start(): void {
    if (this.stopped) return;
    this.started = true;
    this.arm();
  }

  /** Runs a job now (CLI, tests); resolves when it ends. */
  async runNow(name: string): Promise<void> {
    const e = this.entries.find((x) => x.job.name === name);
    if (!e) throw new Error(`no job named ${name}`);
    await (e.running ?? this.launch(e));
  }

  /** Stops the timer and waits for running jobs to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(this.entries.map((e) => e.running));
  }

  /** When the timer would next fire, in ms from now (undefined: nothing waits); for tests and logs. */
  nextWakeMs(): number | undefined {
    const wake = this.earliestWake();
    return wake === Infinity ? undefined : Math.max(0, wake - performance.now());
  }

  /** The earliest moment a job that is not running may start: its due time, or its window's opening. */
  private earliestWake(): number {
    const now = performance.now();
    let wake = Infinity;
    for (const e of this.entries) {
      if (e.running) continue;
      const due = Math.max(e.nextDue, now);
      const window = e.job.window ? msUntilGcTimeWindow(e.job.window, new Date(Date.now() + (due - now))) : 0;
      wake = Math.min(wake, due + window);
    }
    return wake;
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.started || this.stopped) return;
    const wake = this.earliestWake();
    if (wake === Infinity) return;
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, Math.ceil(wake - performance.now())));
    this.timer = setTimeout(() => this.tick(), delay);
    // The scheduler must not keep a finished process alive.
    this.timer.unref();
    this.log.debug({ inMs: delay }, 'scheduler armed');
  }

  private tick(): void {
    this.timer = undefined;
    const now = performance.now();
    for (const e of this.entries) {
      if (e.running || now < e.nextDue) continue;
      if (e.job.window && !inGcTimeWindow(e.job.window, new Date())) continue;
      void this.launch(e);
    }
    this.arm();
  }

  private launch(e: Entry): Promise<void> {
    const started = performance.now();
    // Through a promise, so a job that throws instead of rejecting fails like one that rejects.
    e.running = Promise.resolve()
      .then(() => e.job.run())
      .then(
        () => undefined,
        (err: unknown) => this.log.error({ job: e.job.name, err }, 'job failed'),
      )
      .finally(() => {
        e.running = undefined;
        e.nextDue = performance.now() + e.job.intervalMs;
        this.arm();
        this.log.debug({ job: e.job.name, ms: Math.round(performance.now() - started) }, 'job done');
      });
    return e.running;
  }
}
