import cron, { type ScheduledTask } from 'node-cron';
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
 * The one scheduler: a node-cron clock ticks and each job starts when it is due, never
 * overlapping itself. Intervals are zot durations (any length, not cron fields), which is
 * why the cron task is only the clock. It ticks once a minute when every interval is a
 * minute or more (zot's are hours: gcInterval 1h, scrub 24h), once a second otherwise:
 * node-cron works out each tick's date parts with Intl, ~2 ms of CPU a tick, which an idle
 * device should not pay every second. Its first use maps ICU data (6.5-7 MiB of file-backed
 * RSS) and takes ~25 ms, so the clock starts a while after the first 200 (app.ts).
 */
export class Scheduler {
  private entries: Entry[] = [];
  private clock: ScheduledTask | undefined;
  private clockEverySecond = false;

  constructor(private readonly log: Logger) {}

  add(job: Job): void {
    const delay = Math.floor(Math.random() * (job.maxStartDelayMs ?? 0));
    this.entries.push({ job, nextDue: Date.now() + job.intervalMs + delay, running: undefined });
    this.log.info({ job: job.name, everyMs: job.intervalMs, window: job.window?.text }, 'job scheduled');
    this.retune();
  }

  start(): void {
    if (this.clock || this.entries.length === 0) return;
    this.clockEverySecond = this.needsSeconds();
    const every = this.clockEverySecond ? '* * * * * *' : '* * * * *';
    this.clock = cron.schedule(every, () => this.tick(), { name: 'skiff-scheduler', noOverlap: true });
    // The scheduler must not keep a finished process alive.
    this.clock.unref();
    this.log.debug({ every }, 'scheduler clock started');
  }

  /** Switches the running clock between seconds and minutes when the jobs' needs change. */
  private retune(): void {
    if (!this.clock || this.needsSeconds() === this.clockEverySecond) return;
    void this.clock.destroy();
    this.clock = undefined;
    this.start();
  }

  /** Jobs due at a finer grain than a minute (short test intervals, a first run within a minute). */
  private needsSeconds(): boolean {
    const now = Date.now();
    return this.entries.some((e) => e.job.intervalMs < 60_000 || e.nextDue - now < 60_000);
  }

  /** Runs a job now (CLI, tests); resolves when it ends. */
  async runNow(name: string): Promise<void> {
    const e = this.entries.find((x) => x.job.name === name);
    if (!e) throw new Error(`no job named ${name}`);
    await (e.running ?? this.launch(e));
  }

  /** Stops ticking and waits for running jobs to finish. */
  async stop(): Promise<void> {
    await this.clock?.destroy();
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
    // Back to a minute clock once nothing is due within a minute (after a first sync poll).
    this.retune();
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
        this.retune();
        this.log.debug({ job: e.job.name, ms: Date.now() - started }, 'job done');
      });
    return e.running;
  }
}
