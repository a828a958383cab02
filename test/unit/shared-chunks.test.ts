import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { chunkSource, CHUNK_SIZE } from '../../src/http/chunk-source.ts';
import { BufferPool } from '../../src/http/buffer-pool.ts';
import { heldBuffers } from '../../src/http/pooled-reads.ts';
import type { StreamBody } from '../../src/http/types.ts';

/** A readInto source over `data`, like a blob's FileRange, counting the reads it serves. */
function source(data: Buffer, counter: { reads: number; failAt?: number }, delayMs = 1) {
  let position = 0;
  let destroyed = false;
  const stream = {
    get position() {
      return position;
    },
    skip(n: number) {
      position += n;
    },
    async readInto(target: Buffer) {
      const at = position;
      const n = Math.min(target.length, data.length - at);
      position += n;
      counter.reads++;
      await sleep(delayMs);
      if (counter.failAt === at) throw new Error(`read failed at ${at}`);
      data.copy(target, 0, at, at + n);
      return n;
    },
    destroy() {
      destroyed = true;
    },
    get destroyed() {
      return destroyed;
    },
    async *[Symbol.asyncIterator]() {
      yield data;
    },
  };
  return stream;
}

/** Drains a body the way the uWS writer does: each chunk is consumed before the next is asked for. */
async function drain(body: StreamBody, stopAfter = Infinity): Promise<Buffer> {
  const src = chunkSource(body);
  const out: Buffer[] = [];
  let got = 0;
  try {
    while (got < body.length) {
      const c = await src.next(body.length - got);
      if (c === null) break;
      out.push(Buffer.from(c)); // a copy: the chunk is a loan
      got += c.length;
      if (out.length >= stopAfter) return Buffer.concat(out);
      await sleep(0);
    }
    return Buffer.concat(out);
  } finally {
    src.close(got === body.length);
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('concurrent downloads of one blob share their reads and all get the exact bytes', async () => {
  const data = randomBytes(CHUNK_SIZE * 6 + 1234);
  const counter = { reads: 0 };
  const bodies = Array.from({ length: 12 }, () => ({ stream: source(data, counter), length: data.length, shareKey: 'sha256:shared-a' }));
  const results = await Promise.all(bodies.map((b) => drain(b)));
  for (const r of results) assert.equal(sha(r), sha(data));
  const chunks = Math.ceil(data.length / CHUNK_SIZE);
  // Unshared, that is 12 x 7 reads; shared, far fewer (each chunk is read about once).
  assert.ok(counter.reads < (bodies.length * chunks) / 3, `${counter.reads} reads for ${bodies.length} downloads of ${chunks} chunks`);
});

test('bodies without a share key, or of other content, never share', async () => {
  const a = randomBytes(CHUNK_SIZE * 3);
  const b = randomBytes(CHUNK_SIZE * 3);
  const counter = { reads: 0 };
  const [ra, rb, rc] = await Promise.all([
    drain({ stream: source(a, counter), length: a.length, shareKey: 'sha256:content-a' }),
    drain({ stream: source(b, counter), length: b.length, shareKey: 'sha256:content-b' }),
    drain({ stream: source(a, counter), length: a.length }),
  ]);
  assert.equal(sha(ra!), sha(a));
  assert.equal(sha(rb!), sha(b));
  assert.equal(sha(rc!), sha(a));
  assert.equal(counter.reads, 9);
});

test('a download that stops early does not disturb the others sharing its chunks', async () => {
  const data = randomBytes(CHUNK_SIZE * 5);
  const counter = { reads: 0 };
  const body = () => ({ stream: source(data, counter, 2), length: data.length, shareKey: 'sha256:shared-b' });
  const [partial, ...full] = await Promise.all([drain(body(), 1), drain(body()), drain(body()), drain(body())]);
  assert.equal(partial!.length, CHUNK_SIZE);
  for (const r of full) assert.equal(sha(r), sha(data));
});

test('a failed shared read fails its readers; the next download reads the file again', async () => {
  const data = randomBytes(CHUNK_SIZE * 3);
  const counter: { reads: number; failAt?: number } = { reads: 0, failAt: CHUNK_SIZE };
  const body = () => ({ stream: source(data, counter, 2), length: data.length, shareKey: 'sha256:shared-c' });
  const outcomes = await Promise.allSettled([drain(body()), drain(body()), drain(body())]);
  assert.ok(outcomes.some((o) => o.status === 'rejected'), 'the failing chunk surfaced as an error');
  for (const o of outcomes) if (o.status === 'rejected') assert.match(String(o.reason), /read failed/);
  delete counter.failAt;
  assert.equal(sha(await drain(body())), sha(data));
});

test('a buffer given away by a slow write (forget) makes room for a download waiting for one', { timeout: 5000 }, async () => {
  const pool = new BufferPool(16, 2);
  const a = pool.take() as Buffer;
  pool.take();
  const waiting = pool.take();
  assert.ok(waiting instanceof Promise, 'the budget is spent');
  pool.forget(a);
  const c = await waiting;
  assert.equal(c.length, 16);
  assert.notEqual(c, a);
});

test('responses waiting on slow sockets keep at most half the pool', async () => {
  const data = randomBytes(CHUNK_SIZE);
  const counter = { reads: 0 };
  // Five downloads of different content, each with its one chunk lent (5 of the 8 buffers).
  const srcs = Array.from({ length: 5 }, () => chunkSource({ stream: source(data, counter), length: data.length }));
  for (const s of srcs) assert.equal((await s.next(data.length))?.length, CHUNK_SIZE);
  assert.deepEqual(srcs.map((s) => s.hold()), [true, true, true, true, false]);
  assert.equal(heldBuffers(), 4);
  assert.equal(srcs[0]!.hold(), true, 'a second hold of the same loan is not counted again');
  assert.equal(heldBuffers(), 4);
  srcs[0]!.release();
  assert.equal(srcs[4]!.hold(), true, 'a released hold makes room');
  for (const s of srcs) s.close(true);
  assert.equal(heldBuffers(), 0, 'closing ends every hold');

  // Two downloads of one blob lend the same shared chunk: each hold counts (conservative).
  const a = chunkSource({ stream: source(data, counter), length: data.length, shareKey: 'sha256:held' });
  const b = chunkSource({ stream: source(data, counter), length: data.length, shareKey: 'sha256:held' });
  const [ca, cb] = await Promise.all([a.next(data.length), b.next(data.length)]);
  assert.equal(ca!.buffer, cb!.buffer, 'the chunk is shared');
  assert.ok(a.hold() && b.hold());
  assert.equal(heldBuffers(), 2);
  assert.equal(sha(cb!), sha(data), 'a held chunk keeps its bytes');
  a.close(true);
  assert.equal(heldBuffers(), 1);
  b.close(true);
  assert.equal(heldBuffers(), 0);
});

test('chunks read ahead count against the limit: three stalled downloads leave buffers for a fourth', { timeout: 5000 }, async () => {
  const data = randomBytes(CHUNK_SIZE * 8);
  const counter = { reads: 0 };
  const srcs = Array.from({ length: 3 }, () => chunkSource({ stream: source(data, counter), length: data.length }));
  for (const s of srcs) await s.next(data.length); // each reads two ahead: 3 buffers apiece
  await sleep(5);
  // The first may keep its 3; the others would pass half the pool, and this source cannot
  // read again: they shed (copies), as the uWS writer does.
  assert.deepEqual(srcs.map((s) => s.hold()), [true, false, false]);
  assert.equal(heldBuffers(), 3);
  for (const s of srcs.slice(1)) {
    s.release();
    s.shed();
  }
  await sleep(5);
  const fourth = chunkSource({ stream: source(data, counter), length: data.length });
  const got = await Promise.race([fourth.next(data.length), sleep(1000).then(() => 'waited')]);
  assert.notEqual(got, 'waited', 'a fourth download got a buffer at once');
  for (const s of [...srcs, fourth]) s.close(false);
  assert.equal(heldBuffers(), 0);
});
