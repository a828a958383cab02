/**
 * Giving memory back after heavy work (platform/memory-trim.ts with the addon's
 * malloc_trim): when it runs, and that a process full of dead body-sized buffers really
 * shrinks. The second part runs in a child process, so the test runner's own heap does
 * not blur the figures.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MemoryTrim } from '../../src/platform/memory-trim.ts';
import { nativeMemory } from '../../src/platform/native.ts';
import { sleep } from '../helpers/http-wire.ts';

const top = fileURLToPath(new URL('../..', import.meta.url));

describe('memory trim', () => {
  it('trims once per quiet spell, never while work keeps coming, and not at all without work', async () => {
    let trims = 0;
    // Quiet after 150 ms, then the trim follows the collection by 1 s (V8's sweeper).
    let lows = 0;
    const t = new MemoryTrim({ trim: () => (trims++, true), lowMemory: () => (lows++, true) }, 150);
    await sleep(250);
    assert.equal(trims, 0, 'no work, no trim');
    t.noteWork();
    await sleep(100);
    t.noteWork(); // postpones: the spell restarts here
    await sleep(100);
    assert.equal(trims, 0, 'work 100 ms ago is not quiet yet');
    await sleep(1400);
    assert.equal(trims, 1);
    assert.equal(lows, 1, 'V8 was told first');
    assert.equal(t.count, 1);
    await sleep(1300);
    assert.equal(trims, 1, 'one trim per spell');
    t.noteWork();
    await sleep(1500);
    assert.equal(trims, 2, 'the next spell trims again');
    t.stop();

    const none = new MemoryTrim(null, 10);
    none.noteWork();
    none.afterStartup(10);
    await sleep(1100);
    assert.equal(none.count, 0, 'without the addon it does nothing');
  });

  it('after start-up it gives back once, soon, without waiting for a quiet spell', async () => {
    let trims = 0;
    let lows = 0;
    const t = new MemoryTrim({ trim: () => (trims++, true), lowMemory: () => (lows++, true) }, 60_000);
    t.afterStartup(50);
    t.afterStartup(50); // a second call while one is pending adds nothing
    await sleep(150);
    assert.equal(lows, 1, 'V8 told 50 ms after start-up, not after the 60 s quiet spell');
    await sleep(1100);
    assert.equal(trims, 1);
    await sleep(300);
    assert.equal(lows + trims, 2, 'once');
    t.stop();
  });

  it('waits for a gap between requests: never under load', async () => {
    let reqs = 0;
    let lows = 0;
    const t = new MemoryTrim({ trim: () => true, lowMemory: () => (lows++, true) }, 60_000, 200, () => reqs);
    t.afterStartup(100);
    const load = setInterval(() => reqs++, 20);
    await sleep(800);
    assert.equal(lows, 0, 'requests every 20 ms: nothing given back');
    clearInterval(load);
    await sleep(500);
    assert.equal(lows, 1, 'the first 200 ms without a request: given back');
    t.stop();
  });

  it('gives back the young generation start-up grew (addon built by npm ci)', async () => {
    // Objects that survive scavenges make V8 grow its young generation, as a start-up does.
    const script = `
      import { readFileSync } from 'node:fs';
      import { MemoryTrim } from ${JSON.stringify(new URL('../../src/platform/memory-trim.ts', import.meta.url).href)};
      import { nativeMemory } from ${JSON.stringify(new URL('../../src/platform/native.ts', import.meta.url).href)};
      const anon = () => Number(readFileSync('/proc/self/status', 'utf8').match(/RssAnon:\\s+(\\d+)/)[1]) / 1024;
      let live = [];
      for (let i = 0; i < 400000; i++) { live.push({ i, s: 'x' + i }); if (live.length > 100000) live = live.slice(50000); }
      live = null;
      const before = anon();
      new MemoryTrim(nativeMemory(), 60000).afterStartup(10);
      await new Promise((r) => setTimeout(r, 1200));
      console.log(JSON.stringify({ before, after: anon() }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: top });
    const { before, after } = JSON.parse(stdout) as { before: number; after: number };
    assert.ok(before - after > 20, `given back: ${before.toFixed(1)} -> ${after.toFixed(1)} MiB`);
  });

  it('gives the memory of dead 64 KiB buffers back to the kernel (addon built by npm ci)', async () => {
    assert.ok(nativeMemory(), 'the addon with trim() and lowMemory() is built');
    // 3,000 touched 64 KiB buffers (188 MiB) with a small live one after each, so the dead
    // ones leave holes glibc cannot give back by shrinking the heap's top.
    const script = `
      import { readFileSync } from 'node:fs';
      import { MemoryTrim } from ${JSON.stringify(new URL('../../src/platform/memory-trim.ts', import.meta.url).href)};
      import { nativeMemory } from ${JSON.stringify(new URL('../../src/platform/native.ts', import.meta.url).href)};
      const anon = () => Number(readFileSync('/proc/self/status', 'utf8').match(/RssAnon:\\s+(\\d+)/)[1]) / 1024;
      let big = [];
      const keep = [];
      for (let i = 0; i < 3000; i++) {
        big.push(Buffer.allocUnsafeSlow(65536).fill(1));
        keep.push(Buffer.allocUnsafeSlow(1024).fill(2));
      }
      big = null;
      const before = anon();
      new MemoryTrim(nativeMemory(), 20).noteWork();
      await new Promise((r) => setTimeout(r, 1500));
      console.log(JSON.stringify({ before, after: anon(), kept: keep.length }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: top });
    const { before, after } = JSON.parse(stdout) as { before: number; after: number };
    assert.ok(before > 150, `the buffers were resident: ${before.toFixed(1)} MiB`);
    assert.ok(before - after > 120, `given back: ${before.toFixed(1)} -> ${after.toFixed(1)} MiB`);
  });
});
