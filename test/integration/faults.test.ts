import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../helpers/client.ts';
import { blob, imageConfig, imageManifest } from '../helpers/content.ts';
import { engines, startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { sharedHashThread } from '../../src/platform/hash-thread.ts';

// The hash thread is opt-in; this file's registries (its own process) run with it, so the
// upload tests below go through it, including hang-ups mid-upload.
process.env.SKIFF_HASH_THREAD = 'on';

/** Sends a request head and part of a body on a raw socket, then hangs up. */
async function hangUpMidBody(url: string, head: string, partial: Buffer): Promise<void> {
  const { port } = new URL(url);
  await new Promise<void>((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () => {
      s.write(head);
      s.write(partial, () => setTimeout(() => (s.destroy(), resolve()), 50));
    });
    s.on('error', reject);
  });
}

async function assertValidLayout(root: string, repo: string): Promise<void> {
  const index = JSON.parse(await readFile(join(root, repo, 'index.json'), 'utf8'));
  assert.equal(index.schemaVersion, 2);
  assert.ok(Array.isArray(index.manifests));
  assert.deepEqual(JSON.parse(await readFile(join(root, repo, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  for (const d of index.manifests) {
    const body = await readFile(join(root, repo, 'blobs', d.digest.replace(':', '/')));
    assert.equal(body.length, d.size, `${repo}: ${d.digest} size`);
  }
}

for (const engine of await engines()) {
  describe(`faults over ${engine}`, () => {
    let reg: TestRegistry;
    let c: Client;
    before(async () => {
      reg = await startTestRegistry({ engine });
      c = new Client(reg.url);
    });
    after(() => reg.stop());

    test('a client hanging up mid-upload leaves the session resumable and the repository valid', async () => {
      const cfg = imageConfig();
      await c.pushBlob('hang/up', cfg);
      await c.pushManifest('hang/up', 'v1', imageManifest(cfg, []));
      let r = await c.req('POST', '/v2/hang/up/blobs/uploads/');
      const loc = r.headers.get('location')!;
      const big = blob(8 * 1024 * 1024);
      await hangUpMidBody(reg.url, `PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${big.data.length}\r\n\r\n`, big.data.subarray(0, 1024 * 1024));
      await sleep(100);
      r = await c.req('GET', loc);
      assert.equal(r.status, 204, 'session survives');
      const offset = Number(r.headers.get('range')!.split('-')[1]) + 1;
      assert.ok(offset <= 1024 * 1024, `offset ${offset}`);
      // Resume from where the server says it is, then finish: the digest must verify.
      r = await c.req('PATCH', loc, { body: big.data.subarray(offset), headers: { 'Content-Range': `${offset}-${big.data.length - 1}` } });
      assert.equal(r.status, 202);
      r = await c.req('PUT', `${loc}?digest=${big.digest}`);
      assert.equal(r.status, 201);
      assert.equal((await c.req('HEAD', `/v2/hang/up/blobs/${big.digest}`)).headers.get('content-length'), String(big.data.length));
      await assertValidLayout(reg.root, 'hang/up');
    });

    test('large uploads hash on the hash thread, and a thread stopped between chunks costs a re-read, not a wrong answer', async () => {
      const thread = sharedHashThread()!;
      // Monolithic, above the off-thread size: stored, verified, and a wrong digest refused.
      const mono = blob(3 * 1024 * 1024 + 5);
      assert.equal((await c.pushBlob('hash/thread', mono)).status, 201);
      assert.equal(thread.running, true, 'a 3 MiB upload started the hash thread');
      const stored = await readFile(join(reg.root, 'hash/thread/blobs', mono.digest.replace(':', '/')));
      assert.ok(stored.equals(mono.data));
      const other = blob(2 * 1024 * 1024);
      let r = await c.req('POST', `/v2/hash/thread/blobs/uploads/?digest=${mono.digest}`, { body: other.data });
      assert.equal(r.status, 400);
      assert.equal(((await r.json()) as { errors: { code: string }[] }).errors[0]?.code, 'DIGEST_INVALID');

      // Chunked: the thread stops after the first chunk; completion rebuilds from the file.
      const big = blob(5 * 1024 * 1024);
      r = await c.req('POST', '/v2/hash/thread/blobs/uploads/');
      let loc = r.headers.get('location')!;
      const cut = 2 * 1024 * 1024;
      r = await c.req('PATCH', loc, { body: big.data.subarray(0, cut), headers: { 'Content-Range': `0-${cut - 1}` } });
      assert.equal(r.status, 202);
      loc = r.headers.get('location')!;
      await thread.stop();
      r = await c.req('PATCH', loc, { body: big.data.subarray(cut), headers: { 'Content-Range': `${cut}-${big.data.length - 1}` } });
      assert.equal(r.status, 202);
      loc = r.headers.get('location')!;
      const sep = loc.includes('?') ? '&' : '?';
      assert.equal((await c.req('PUT', `${loc}${sep}digest=${other.digest}`)).status, 400, 'the rebuilt digest is checked');
      r = await c.req('POST', '/v2/hash/thread/blobs/uploads/');
      loc = r.headers.get('location')!;
      r = await c.req('PATCH', loc, { body: big.data.subarray(0, cut), headers: { 'Content-Range': `0-${cut - 1}` } });
      loc = r.headers.get('location')!;
      await thread.stop();
      r = await c.req('PATCH', loc, { body: big.data.subarray(cut), headers: { 'Content-Range': `${cut}-${big.data.length - 1}` } });
      loc = r.headers.get('location')!;
      r = await c.req('PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${big.digest}`);
      assert.equal(r.status, 201);
      assert.equal((await c.req('HEAD', `/v2/hash/thread/blobs/${big.digest}`)).headers.get('content-length'), String(big.data.length));
      await assertValidLayout(reg.root, 'hash/thread');
    });

    test('a monolithic push cut short stores nothing and leaves no temp file', async () => {
      const b = blob(4 * 1024 * 1024);
      await hangUpMidBody(reg.url, `POST /v2/hang/mono/blobs/uploads/?digest=${b.digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.data.length}\r\n\r\n`, b.data.subarray(0, 100_000));
      await sleep(200);
      assert.equal((await c.req('HEAD', `/v2/hang/mono/blobs/${b.digest}`)).status, 404);
      const uploads = await readdir(join(reg.root, 'hang/mono/.uploads')).catch(() => []);
      assert.deepEqual(uploads, []);
      assert.equal((await c.req('GET', '/v2/')).status, 200, 'server still serving');
    });

    test('a client hanging up mid-download does not disturb the server', async () => {
      const b = blob(16 * 1024 * 1024);
      await c.pushBlob('hang/down', b);
      const { port } = new URL(reg.url);
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve) => {
          const s = connect(Number(port), '127.0.0.1', () => s.write(`GET /v2/hang/down/blobs/${b.digest} HTTP/1.1\r\nHost: x\r\n\r\n`));
          s.once('data', () => (s.destroy(), resolve()));
          s.on('error', () => resolve());
        });
      }
      const r = await c.req('GET', `/v2/hang/down/blobs/${b.digest}`);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), b.data);
    });

    test('tag pushes, deletes and reads racing on one tag never fail with a 500 or corrupt index.json', async () => {
      const cfg = imageConfig();
      await c.pushBlob('race/tag', cfg);
      const manifests = [0, 1, 2].map((i) => imageManifest(cfg, [], { annotations: { i: String(i) } }));
      const statuses = await Promise.all(
        Array.from({ length: 90 }, async (_, i) => {
          const m = manifests[i % 3]!;
          const op = i % 3;
          const r =
            op === 0 ? await c.pushManifest('race/tag', 'hot', m) : op === 1 ? await c.req('DELETE', '/v2/race/tag/manifests/hot') : await c.req('GET', '/v2/race/tag/manifests/hot');
          await r.arrayBuffer();
          return r.status;
        }),
      );
      for (const s of statuses) assert.ok([200, 201, 202, 404].includes(s), `status ${s}`);
      await assertValidLayout(reg.root, 'race/tag');
      const index = JSON.parse(await readFile(join(reg.root, 'race/tag/index.json'), 'utf8'));
      const tagged = index.manifests.filter((d: { annotations?: Record<string, string> }) => d.annotations?.['org.opencontainers.image.ref.name'] === 'hot');
      const r = await c.req('GET', '/v2/race/tag/manifests/hot');
      if (tagged.length === 0) assert.equal(r.status, 404);
      else {
        assert.equal(tagged.length, 1, 'one descriptor per tag');
        assert.equal(r.headers.get('docker-content-digest'), tagged[0].digest, 'index and disk agree');
      }
    });
  });
}
