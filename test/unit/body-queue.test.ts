import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BodyQueue } from '../../src/http/body-queue.ts';

/** An ArrayBuffer as uWS hands one to onData. */
const chunk = (n: number, fill = 1) => new Uint8Array(n).fill(fill).buffer;

describe('uWS body queue', () => {
  it('pauses on the memory its copies hold: small reads each hold a whole 512 KiB slot', async () => {
    const flow = { paused: 0, resumed: 0, pause() { this.paused++; }, resume() { this.resumed++; } };
    const q = new BodyQueue(flow, 4 * 1024 * 1024, 1024 * 1024);
    // Eight 64 KiB reads are 512 KiB of data but hold 4 MiB of slots: not past the mark yet.
    for (let i = 0; i < 8; i++) q.push(chunk(64 * 1024, i), false);
    assert.equal(flow.paused, 0);
    // The ninth would hold 4.5 MiB; counting bytes (576 KiB) it would not have paused.
    q.push(chunk(64 * 1024, 8), false);
    assert.equal(flow.paused, 1);
    assert.equal(q.paused, true);
    q.push(chunk(100, 9), true);
    // Reading in lend mode gives slots back; below the low mark (1 MiB = two slots) it resumes.
    const seen: number[] = [];
    for await (const c of q.iterate(true)) {
      seen.push(c[0]!, c.length);
    }
    assert.equal(flow.resumed, 1);
    assert.deepEqual(seen, [0, 65536, 1, 65536, 2, 65536, 3, 65536, 4, 65536, 5, 65536, 6, 65536, 7, 65536, 8, 65536, 9, 100]);
    assert.equal(q.received, 9 * 64 * 1024 + 100);
  });
});
