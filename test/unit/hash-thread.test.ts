import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HashThread } from '../../src/platform/hash-thread.ts';

const moduleUrl = new URL('../../src/platform/hash-thread.ts', import.meta.url).href;

const digest = (alg: string, ...parts: Buffer[]) => {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return `${alg}:${h.digest('hex')}`;
};

describe('hash thread', () => {
  const thread = new HashThread();
  after(() => thread.stop());

  it('hashes chunks of any size (empty, below, at and across the slot size) as node:crypto does', async () => {
    const chunks = [0, 1, 4096, 512 * 1024, 512 * 1024 + 1, 3 * 1024 * 1024 + 17].map((n) => randomBytes(n));
    for (const alg of ['sha256', 'sha512'] as const) {
      const h = thread.open(alg);
      for (const c of chunks) await h.update(c);
      assert.equal(await h.peek(), digest(alg, ...chunks));
      assert.equal(h.size, chunks.reduce((a, c) => a + c.length, 0));
      h.dispose();
    }
  });

  it('may reuse a chunk as soon as update returns, and peek does not end the hash', async () => {
    const h = thread.open('sha256');
    const buf = Buffer.alloc(600 * 1024, 1);
    const copy = Buffer.from(buf);
    await h.update(buf);
    buf.fill(2);
    assert.equal(await h.peek(), digest('sha256', copy));
    await h.update(buf);
    assert.equal(await h.peek(), digest('sha256', copy, buf));
    h.dispose();
  });

  it('keeps concurrent hashes apart while they wait for slots (16 MiB in flight, 4 MiB of slots)', async () => {
    const data = Array.from({ length: 4 }, () => Array.from({ length: 8 }, () => randomBytes(512 * 1024)));
    const hashes = data.map(() => thread.open('sha256'));
    // No await between updates of different hashes: the slots run out and uploads queue.
    await Promise.all(
      hashes.map(async (h, i) => {
        for (const c of data[i]!) await h.update(c);
      }),
    );
    const got = await Promise.all(hashes.map((h) => h.peek()));
    assert.deepEqual(
      got,
      data.map((parts) => digest('sha256', ...parts)),
    );
    for (const h of hashes) h.dispose();
  });

  it('reports a hash lost when the thread stops, and starts afresh for the next one', async () => {
    const h = thread.open('sha256');
    await h.update(randomBytes(1024));
    await thread.stop();
    assert.equal(thread.running, false);
    await h.update(randomBytes(1024)); // ignored: the state is gone
    assert.equal(await h.peek(), null);
    const again = thread.open('sha256');
    const b = randomBytes(2048);
    await again.update(b);
    assert.equal(await again.peek(), digest('sha256', b));
    again.dispose();
  });

  it('holds a process open while it owes a digest and lets it end right after, whatever flags it runs with', async () => {
    // --input-type=module is inherited by workers unless told otherwise; the thread's
    // program is CommonJS, so a thread that inherited it would die and answer null.
    const script = `import { HashThread } from ${JSON.stringify(moduleUrl)};
      const h = new HashThread().open('sha256');
      await h.update(Buffer.alloc(1 << 20));
      console.log(await h.peek());`;
    const started = Date.now();
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    assert.equal(stdout.trim(), digest('sha256', Buffer.alloc(1 << 20)));
    assert.ok(Date.now() - started < 10_000, 'the process ended without waiting for the idle stop (30 s)');
  });

  it('is used only with SKIFF_HASH_THREAD=on (checked in fresh processes: the thread is one per process)', async () => {
    const script = `import { sharedHashThread } from ${JSON.stringify(moduleUrl)}; console.log(sharedHashThread() === null);`;
    const run = async (extra: NodeJS.ProcessEnv) => {
      const env = { ...process.env, ...extra };
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), env });
      return stdout.trim();
    };
    assert.equal(await run({ SKIFF_HASH_THREAD: '' }), 'true');
    assert.equal(await run({ SKIFF_HASH_THREAD: 'off' }), 'true');
    // On one core there is never a thread; this machine class has at least two.
    assert.equal(await run({ SKIFF_HASH_THREAD: 'on' }), availableParallelism() > 1 ? 'false' : 'true');
  });

  it('stops by itself once idle, and a crash loses the running hashes without hanging anyone', async () => {
    const idle = new HashThread(50);
    const h = idle.open('sha256');
    await h.update(randomBytes(100));
    assert.equal(idle.running, true);
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(idle.running, false);
    assert.equal(await h.peek(), null);

    // A crash (here: a hash the thread cannot make) loses every running hash, and a peek
    // still waiting for the thread answers null instead of never.
    const crash = new HashThread();
    crash.open('md4-nope' as 'sha256');
    const c = crash.open('sha256');
    const pending = c.peek();
    assert.equal(await pending, null);
    assert.equal(crash.running, false);
    await c.update(randomBytes(10));
    assert.equal(await c.peek(), null);
    await crash.stop();
  });
});
