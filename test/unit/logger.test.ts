/**
 * Log timestamps: skiff's own ISO formatter (it spares the process ICU's time-zone data)
 * must write exactly what toISOString writes, and log lines must carry it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { isoTime } from '../../src/platform/logger.ts';

test('isoTime writes the same string as toISOString', () => {
  const samples = [0, 1, 9, 10, 99, 100, 999, Date.UTC(2000, 1, 29, 23, 59, 59, 999), Date.UTC(2026, 11, 1, 3, 4, 5, 6), Date.UTC(9999, 11, 31, 23, 59, 59, 999)];
  // Plus a spread of times across four centuries, milliseconds included.
  for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * Date.UTC(2400, 0, 1)));
  for (const t of samples) assert.equal(isoTime(t), `,"time":"${new Date(t).toISOString()}"`, `at ${t}`);
});

test('log lines carry it as "time"', () => {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const before = Date.now();
  pino({ timestamp: isoTime }, out).info('hello');
  const line = JSON.parse(lines[0]!) as { time: string; msg: string };
  assert.equal(line.msg, 'hello');
  assert.match(line.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.ok(Date.parse(line.time) >= before - 1 && Date.parse(line.time) <= Date.now());
});
