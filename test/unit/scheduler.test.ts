/**
 * The scheduler's node-cron clock: once a minute when every job is an hour-scale zot
 * interval (an idle device should not pay node-cron's per-tick Intl work every second),
 * once a second while something is due within a minute; jobs never overlap themselves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Scheduler } from '../../src/app/scheduler.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), clocks: () => lines.filter((l) => l.msg === 'scheduler clock started').map((l) => l.every) };
}

test('hour-scale jobs get a minute clock; a job due within a minute switches it to seconds', async () => {
  const { log, clocks } = capture();
  const s = new Scheduler(log);
  s.add({ name: 'gc', intervalMs: 3_600_000, run: async () => undefined });
  s.start();
  assert.deepEqual(clocks(), ['* * * * *']);
  s.add({ name: 'poll', intervalMs: 5_000, run: async () => undefined });
  assert.deepEqual(clocks(), ['* * * * *', '* * * * * *']);
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
      await new Promise((r) => setTimeout(r, 1_500));
      running--;
      runs++;
    },
  });
  s.start();
  await new Promise((r) => setTimeout(r, 3_300));
  await s.stop();
  assert.ok(runs >= 1, `runs ${runs}`);
  assert.equal(maxRunning, 1);
  assert.equal(running, 0, 'stop waited for the run in progress');
});
