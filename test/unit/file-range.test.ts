import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileRange } from '../../src/storage/layout/file-range.ts';
import { chunkSource, CHUNK_SIZE } from '../../src/http/chunk-source.ts';

const dir = mkdtempSync(join(tmpdir(), 'skiff-file-range-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const data = randomBytes(CHUNK_SIZE * 3 + 999);
const file = join(dir, 'blob');
writeFileSync(file, data);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A FileRange over bytes [start, start+length) of the test file. */
async function range(start = 0, length = data.length): Promise<FileRange> {
  return new FileRange(await open(file, 'r'), start, length, CHUNK_SIZE);
}

/** True once reads on the range fail because its handle was closed. */
async function closed(r: FileRange): Promise<boolean> {
  return r.readAt(Buffer.alloc(1), 100).then(
    () => false,
    (err: Error) => /closed/.test(err.message),
  );
}

test('a range closes itself at its end unless kept open; kept open, it reads past bytes again until destroyed', async () => {
  const plain = await range(100, 5000);
  assert.equal(await plain.readInto(Buffer.alloc(8000)), 5000);
  assert.equal(await closed(plain), true, 'read to its end, the range closed itself');

  const kept = await range(100, 5000);
  kept.keepOpen();
  const first = Buffer.alloc(8000);
  assert.equal(await kept.readInto(first), 5000);
  assert.equal(await kept.readInto(Buffer.alloc(10)), 0, 'the end reads as 0 bytes');
  const again = Buffer.alloc(1200);
  assert.equal(await kept.readAt(again, 3000), 1200);
  assert.deepEqual(again, data.subarray(3000, 4200), 'the same bytes, by file offset');
  assert.equal(kept.position, 5100, 'readAt does not move the position');
  kept.destroy();
  assert.equal(await closed(kept), true);
});

test('readAt refuses bytes the range has not handed out yet, or outside it', async () => {
  const r = await range(1000, 20_000);
  r.keepOpen();
  await r.readInto(Buffer.alloc(4000));
  r.skip(1000); // skipped bytes (a shared chunk's) count as handed out
  assert.equal(await r.readAt(Buffer.alloc(5000), 1000), 5000);
  await assert.rejects(r.readAt(Buffer.alloc(10), 5995), RangeError);
  await assert.rejects(r.readAt(Buffer.alloc(10), 990), RangeError);
  r.destroy();
});

test('a pooled download lets a chunk go and reads its unsent end again, from the file or a shared chunk', async () => {
  // Alone: the bytes come from the file again, and the download continues in order.
  const src = chunkSource({ stream: await range(), length: data.length });
  const out: Buffer[] = [];
  const first = await src.next(data.length);
  out.push(Buffer.from(first!.subarray(0, 1000)));
  assert.equal(src.letGo(1000), true);
  await sleep(5);
  out.push(Buffer.from((await src.again())!));
  for (let got = CHUNK_SIZE; got < data.length; ) {
    const c = await src.next(data.length - got);
    out.push(Buffer.from(c!));
    got += c!.length;
  }
  src.close(true);
  assert.equal(sha(Buffer.concat(out)), sha(data));

  // Two downloads of one blob: the second lets go of a chunk the first still uses, and
  // gets it back from the shared chunk (same buffer), not from a new read.
  const body = async () => ({ stream: await range(), length: data.length, shareKey: 'sha256:file-range-test' });
  const a = chunkSource(await body());
  const b = chunkSource(await body());
  const [ca, cb] = await Promise.all([a.next(data.length), b.next(data.length)]);
  assert.equal(ca!.buffer, cb!.buffer, 'the chunk is shared');
  assert.equal(b.letGo(CHUNK_SIZE - 10), true);
  const tail = await b.again();
  assert.equal(tail.buffer, ca!.buffer, 'found in the shared chunk');
  assert.deepEqual(tail, data.subarray(CHUNK_SIZE - 10, CHUNK_SIZE));
  a.close(true);
  b.close(true);
});

test('a source that cannot read again keeps its loan', async () => {
  const src = chunkSource({ stream: (async function* () { yield data; })(), length: data.length });
  assert.equal((await src.next(data.length))!.length, data.length);
  assert.equal(src.letGo(10), false);
  src.close(true);
});

/** Drains `src` from its current loan on, letting go twice, `cut` bytes apart, in every `every`th chunk; returns what it got. */
async function drainLettingGo(src: ReturnType<typeof chunkSource>, first: Buffer, total: number, cut: number, every: number): Promise<Buffer> {
  const out: Buffer[] = [];
  let got = 0;
  let piece: Buffer | null = first;
  let chunk = 0;
  let cuts = 0; // partial sends of this chunk so far
  while (piece !== null) {
    // Two partial sends of the same chunk in a row: the second counts from the piece.
    if (chunk % every === 0 && cuts < 2 && piece.length > cut && src.letGo(cut)) {
      out.push(Buffer.from(piece.subarray(0, cut)));
      got += cut;
      cuts++;
      await sleep(1);
      piece = await src.again();
      continue;
    }
    out.push(Buffer.from(piece));
    got += piece.length;
    chunk++;
    cuts = 0;
    piece = got < total ? await src.next(total - got) : null;
  }
  return Buffer.concat(out);
}

test('letting go twice in a row, and with chunks read ahead, sends every byte once, in order', async () => {
  for (const cut of [1, 1000, 100_000]) {
    // Alone: pieces read again from the file, chunks read ahead given back and read again.
    const alone = chunkSource({ stream: await range(), length: data.length });
    const out = await drainLettingGo(alone, (await alone.next(data.length))!, data.length, cut, 1);
    alone.close(true);
    assert.equal(sha(out), sha(data), `alone, cut ${cut}`);

    // Shared: pieces found again in the shared chunk (at an offset inside it).
    const body = async () => ({ stream: await range(), length: data.length, shareKey: `sha256:twice-${cut}` });
    const a = chunkSource(await body());
    const b = chunkSource(await body());
    const [fa, fb] = await Promise.all([a.next(data.length), b.next(data.length)]);
    const [ra, rb] = await Promise.all([drainLettingGo(a, fa!, data.length, cut, 2), drainLettingGo(b, fb!, data.length, cut, 1)]);
    a.close(true);
    b.close(true);
    assert.equal(sha(ra), sha(data), `shared a, cut ${cut}`);
    assert.equal(sha(rb), sha(data), `shared b, cut ${cut}`);
  }
});

test('a download closed while it waits to read again gives the buffer it gets back, and no buffer is lost', { timeout: 10_000 }, async () => {
  const small = CHUNK_SIZE; // one chunk each: no read-ahead
  const a = chunkSource({ stream: await range(0, small), length: small });
  await a.next(small);
  assert.equal(a.letGo(10), true);
  // Every pooled buffer lent elsewhere: the read again has to wait for one.
  const others = await Promise.all(Array.from({ length: 8 }, async () => {
    const s = chunkSource({ stream: await range(0, small), length: small });
    await s.next(small);
    return s;
  }));
  const waiting = a.again();
  waiting.catch(() => undefined);
  await sleep(10);
  a.close(false);
  others[0]!.release(); // its buffer goes to the closed download, which gives it back
  await assert.rejects(waiting, /closed/);
  for (const s of others) s.close(true);
  // All 8 buffers are free again: 8 new downloads each get one at once.
  const fresh = await Promise.all(Array.from({ length: 8 }, async () => chunkSource({ stream: await range(0, small), length: small })));
  const got = await Promise.race([Promise.all(fresh.map((s) => s.next(small))), sleep(2000).then(() => 'waited')]);
  assert.notEqual(got, 'waited', 'no pooled buffer was lost');
  for (const s of fresh) s.close(true);
});
