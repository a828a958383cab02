import type { Logger } from 'pino';
import { inGcTimeWindow } from '../config/index.ts';
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
  nextDue: number;
  running: Promise<void> | undefined;
}

/**
 * The one scheduler: a clock ticks once a second and each job starts when it is due,
 * never overlapping itself. Intervals are zot durations (any length, not cron fields), so
 * the clock is a plain interval: node-cron's once-a-second task cost ~25 ms of Intl
 * setup when it started (a stall that landed in the first pulls after start), ~8 MiB
 * of resident memory and ~2 ms of CPU per tick, for nothing a timer cannot do.
 */
export class Scheduler {
  private entries: Entry[] = [];
  private clock: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger) {}

  add(job: Job): void {
    const delay = Math.floor(Math.random() * (job.maxStartDelayMs ?? 0));
    this.entries.push({ job, nextDue: Date.now() + job.intervalMs + delay, running: undefined });
    this.log.info({ job: job.name, everyMs: job.intervalMs, window: job.window?.text }, 'job scheduled');
  }

  start(): void {
    if (this.clock || this.entries.length === 0) return;
    this.clock = setInterval(() => this.tick(), 1000);
    // The scheduler must not keep a finished process alive.
    this.clock.unref();
  }

  /** Runs a job now (CLI, tests); resolves when it ends. */
  async runNow(name: string): Promise<void> {
    const e = this.entries.find((x) => x.job.name === name);
    if (!e) throw new Error(`no job named ${name}`);
    await (e.running ?? this.launch(e));
  }

  /** Stops ticking and waits for running jobs to finish. */
  async stop(): Promise<void> {
    clearInterval(this.clock);
    this.clock = undefined;
    await Promise.all(this.entries.map((e) => e.running));
  }

  private tick(): void {
    const now = Date.now();
    for (const e of this.entries) {
      if (e.running || now < e.nextDue) continue;
      if (e.job.window && !inGcTimeWindow(e.job.window, new Date(now))) continue;
      void this.launch(e);
    }
  }

  private launch(e: Entry): Promise<void> {
    const started = Date.now();
    e.running = e.job
      .run()
      .then(
        () => undefined,
        (err: unknown) => this.log.error({ job: e.job.name, err }, 'job failed'),
      )
      .finally(() => {
        e.running = undefined;
        e.nextDue = Date.now() + e.job.intervalMs;
        this.log.debug({ job: e.job.name, ms: Date.now() - started }, 'job done');
      });
    return e.running;
  }
}
