/**
 * The scheduler: one unref'd timer armed for the earliest due job (no clock ticking while
 * nothing is due), jobs never overlapping themselves, zot's gcTimeWindow honoured by
 * waiting for the window to open, and intervals longer than setTimeout can hold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Scheduler } from '../../src/app/scheduler.ts';
import { parseGcTimeWindow } from '../../src/config/index.ts';
import type { GcTimeWindow } from '../../src/config/types.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), armed: () => lines.filter((l) => l.msg === 'scheduler armed').map((l) => l.inMs as number) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hhmm = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;

test('an hour-scale job arms one timer for its due time; nothing ticks in between', async () => {
  const { log, armed } = capture();
  const s = new Scheduler(log);
  s.add({ name: 'gc', intervalMs: 3_600_000, run: async () => undefined });
  assert.deepEqual(armed(), [], 'nothing is armed before start');
  s.start();
  assert.equal(armed().length, 1);
  assert.ok(armed()[0]! > 3_599_000 && armed()[0]! <= 3_600_000, `armed for ${armed()[0]} ms`);
  await sleep(1_200);
  assert.equal(armed().length, 1, 'no wake-up while nothing is due');
  // A job due sooner re-arms the one timer for it.
  s.add({ name: 'poll', intervalMs: 5_000, run: async () => undefined });
  assert.ok(s.nextWakeMs()! <= 5_000);
  await s.stop();
});

test('a job runs when due, never twice at once, and stop waits for it', async () => {
  const { log } = capture();
  const s = new Scheduler(log);
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  s.add({
    name: 'slow',
    intervalMs: 1,
    run: async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(1_500);
      running--;
      runs++;
    },
  });
  s.start();
  await sleep(3_300);
  await s.stop();
  assert.ok(runs >= 1, `runs ${runs}`);
  assert.equal(maxRunning, 1);
  assert.equal(running, 0, 'stop waited for the run in progress');
});

test('a due job outside its gcTimeWindow waits for the window to open, and runs inside one', async () => {
  const { log } = capture();
  const now = Date.now();
  // A window opening in 2-3 minutes and closing an hour later: the job must not run now.
  const later = parseGcTimeWindow(`${hhmm(new Date(now + 180_000))}-${hhmm(new Date(now + 3_780_000))}`) as GcTimeWindow;
  const s = new Scheduler(log);
  let runs = 0;
  s.add({ name: 'gc', intervalMs: 1, window: later, run: async () => void runs++ });
  s.start();
  await sleep(100);
  assert.equal(runs, 0, 'outside the window nothing runs');
  const wake = s.nextWakeMs()!;
  assert.ok(wake > 60_000 && wake <= 180_000, `wakes in ${wake} ms, when the window opens`);
  await s.stop();

  // A window around now: the due job runs.
  const around = parseGcTimeWindow(`${hhmm(new Date(now - 120_000))}-${hhmm(new Date(now + 120_000))}`) as GcTimeWindow;
  const t = new Scheduler(log);
  t.add({ name: 'gc', intervalMs: 1, window: around, run: async () => void runs++ });
  t.start();
  await sleep(200);
  await t.stop();
  assert.ok(runs >= 1, 'inside the window the job ran');
});

test('an interval longer than setTimeout can hold (24.8 days) does not fire at once', async () => {
  const { log, armed } = capture();
  const s = new Scheduler(log);
  let runs = 0;
  s.add({ name: 'scrub', intervalMs: 40 * 86_400_000, run: async () => void runs++ });
  s.start();
  await sleep(100);
  assert.equal(runs, 0);
  assert.equal(armed()[0], 2_147_483_647, 'armed for the longest delay, re-armed when it fires');
  assert.ok(s.nextWakeMs()! > 39 * 86_400_000);
  await s.stop();
});

test('runNow runs a job at once and the timer keeps its schedule', async () => {
  const { log } = capture();
  const s = new Scheduler(log);
  let runs = 0;
  s.add({ name: 'gc', intervalMs: 3_600_000, run: async () => void runs++ });
  s.start();
  await s.runNow('gc');
  assert.equal(runs, 1);
  assert.ok(s.nextWakeMs()! > 3_599_000, 'the next run is an interval after the one just done');
  await assert.rejects(s.runNow('nope'), /no job named nope/);
  await s.stop();
});

test('a job that throws instead of rejecting is logged, and runs again at its next interval', async () => {
  const { log } = capture();
  const s = new Scheduler(log);
  let calls = 0;
  s.add({
    name: 'bad',
    intervalMs: 50,
    run: () => {
      calls++;
      throw new Error('boom');
    },
  });
  s.start();
  await sleep(400);
  await s.stop();
  assert.ok(calls >= 2, `ran ${calls} times and the process lived on`);
});
