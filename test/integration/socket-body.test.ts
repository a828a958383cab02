/**
 * Large request bodies on node:http read from the socket by the addon (http/node-socket-body.ts),
 * through the registry over real sockets: what is stored is exactly what was sent, the reply
 * closes the connection (node's parser never saw the end of the body) and the next request
 * on a new one works; small and chunked-encoded bodies keep the ordinary path and keep-alive;
 * a client hanging up mid-body leaves a resumable session; and SKIFF_SOCKET_BODY=off turns it off.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '../helpers/client.ts';
import { blob } from '../helpers/content.ts';
import { RawConnection, sleep } from '../helpers/http-wire.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { createServer } from 'node:http';
import { loadSendfile, nativeSocketRecv } from '../../src/platform/native.ts';
import { MAX_SOCKET_BODIES, socketBody } from '../../src/http/node-socket-body.ts';

const MiB = 1024 * 1024;
const built = loadSendfile({}).ok;

/** One request on a fresh raw connection; resolves with the reply head and whether the server closed. */
async function rawRequest(port: number, head: string, body: Buffer | Buffer[] = []): Promise<{ text: string; closed: boolean }> {
  const conn = await RawConnection.open(port);
  conn.write(head);
  for (const part of Array.isArray(body) ? body : [body]) conn.write(part);
  await conn.until((t) => /\r\n\r\n/.test(t) && (/Content-Length: 0\r\n/i.test(t) || /\r\n\r\n[\s\S]*\}/.test(t)), 10_000);
  // A closing server ends the connection right after the reply.
  await conn.until(() => false, 300);
  const out = { text: conn.text, closed: conn.closed };
  conn.destroy();
  return out;
}

const port = (reg: TestRegistry) => Number(new URL(reg.url).port);

describe('large bodies read from the socket (node:http)', { skip: built ? false : 'the native addon is not built' }, () => {
  let reg: TestRegistry;
  let c: Client;
  before(async () => {
    reg = await startTestRegistry({ engine: 'node' });
    c = new Client(reg.url);
  });
  after(() => reg.stop());

  test('a monolithic push is stored byte for byte, the reply closes the connection, and the next request works', async () => {
    const b = blob(6 * MiB + 12_345);
    const r = await rawRequest(port(reg), `POST /v2/sock/mono/blobs/uploads/?digest=${b.digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.data.length}\r\n\r\n`, b.data);
    assert.match(r.text, /^HTTP\/1\.1 201 /);
    assert.match(r.text, /\r\nConnection: close\r\n/i);
    assert.equal(r.closed, true, 'the server closed the connection after the reply');
    const stored = await readFile(join(reg.root, 'sock/mono/blobs', b.digest.replace(':', '/')));
    assert.ok(stored.equals(b.data));
    assert.equal((await c.req('GET', `/v2/sock/mono/blobs/${b.digest}`)).status, 200);
  });

  test('chunked PATCHes of known length, with a small one between: all stored, the small one keeps the connection', async () => {
    const b = blob(7 * MiB + 3);
    let r = await c.req('POST', '/v2/sock/chunks/blobs/uploads/');
    let loc = r.headers.get('location')!;
    const cuts = [0, 3 * MiB, 3 * MiB + 1000, b.data.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [start, end] = [cuts[i]!, cuts[i + 1]!];
      const part = b.data.subarray(start, end);
      const reply = await rawRequest(
        port(reg),
        `PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Range: ${start}-${end - 1}\r\nContent-Length: ${part.length}\r\n\r\n`,
        part,
      );
      assert.match(reply.text, /^HTTP\/1\.1 202 /);
      const large = part.length >= MiB;
      assert.equal(/\r\nConnection: close\r\n/i.test(reply.text), large, `PATCH of ${part.length} bytes`);
      assert.equal(reply.closed, large);
      loc = /\r\nLocation: ([^\r]+)\r\n/i.exec(reply.text)![1]!;
    }
    r = await c.req('PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${b.digest}`);
    assert.equal(r.status, 201);
    const stored = await readFile(join(reg.root, 'sock/chunks/blobs', b.digest.replace(':', '/')));
    assert.ok(stored.equals(b.data));
  });

  test('a large PATCH refused before its body is read (its range does not follow) gets its 416 reply, not a reset', async () => {
    const b = blob(5 * MiB);
    const r = await c.req('POST', '/v2/sock/refused/blobs/uploads/');
    const loc = r.headers.get('location')!;
    // Sent in one go, as clients do: the reply is ready while most of the body is on its way.
    const conn = await RawConnection.open(port(reg));
    conn.write(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Range: 100-${100 + b.data.length - 1}\r\nContent-Length: ${b.data.length}\r\n\r\n`);
    conn.write(b.data);
    assert.ok(await conn.until(() => conn.closed, 10_000), 'the server closed the connection');
    assert.match(conn.text, /^HTTP\/1\.1 416 /);
    assert.match(conn.text, /"code":"BLOB_UPLOAD_INVALID"|"code":"RANGE_INVALID"|"errors"/);
    assert.equal(conn.error, undefined, 'no reset');
    conn.destroy();
    // The session is as it was: empty, and takes a PATCH from 0.
    const status = await c.req('GET', loc);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-0');
  });

  test('a body sent with chunked transfer encoding takes the ordinary path and keeps the connection', async () => {
    const b = blob(3 * MiB);
    const framed = [Buffer.from(`${b.data.length.toString(16)}\r\n`), b.data, Buffer.from('\r\n0\r\n\r\n')];
    const r = await rawRequest(port(reg), `POST /v2/sock/te/blobs/uploads/?digest=${b.digest} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, framed);
    assert.match(r.text, /^HTTP\/1\.1 201 /);
    assert.doesNotMatch(r.text, /\r\nConnection: close\r\n/i);
    assert.equal(r.closed, false);
  });

  test('a client hanging up mid-body leaves a session that resumes from what arrived', async () => {
    const b = blob(6 * MiB);
    let r = await c.req('POST', '/v2/sock/hang/blobs/uploads/');
    const loc = r.headers.get('location')!;
    const conn = await RawConnection.open(port(reg));
    conn.write(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${b.data.length}\r\n\r\n`);
    conn.write(b.data.subarray(0, 2 * MiB + 17));
    await sleep(200);
    conn.destroy();
    await sleep(200);
    r = await c.req('GET', loc);
    assert.equal(r.status, 204, 'the session survives');
    const offset = Number(r.headers.get('range')!.split('-')[1]) + 1;
    assert.equal(offset, 2 * MiB + 17, 'every byte that arrived was kept');
    r = await c.req('PATCH', loc, { body: b.data.subarray(offset), headers: { 'Content-Range': `${offset}-${b.data.length - 1}` } });
    assert.equal(r.status, 202);
    const next = r.headers.get('location')!;
    r = await c.req('PUT', `${next}${next.includes('?') ? '&' : '?'}digest=${b.digest}`);
    assert.equal(r.status, 201);
    assert.equal((await c.req('GET', '/v2/')).status, 200, 'the server still serves');
  });

  test('a large body pipelined behind a long download is answered and stored (node keeps reading it itself)', async () => {
    const big = blob(12 * MiB);
    assert.equal((await c.pushBlob('sock/pipe', big)).status, 201);
    const b = blob(8 * MiB);
    const conn = await RawConnection.open(port(reg));
    conn.write(`GET /v2/sock/pipe/blobs/${big.digest} HTTP/1.1\r\nHost: x\r\n\r\n`);
    conn.write(`POST /v2/sock/pipe/blobs/uploads/?digest=${b.digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.data.length}\r\n\r\n`);
    conn.write(b.data);
    assert.ok(await conn.until((t) => t.includes('HTTP/1.1 201 '), 20_000), 'the pipelined push was answered');
    conn.destroy();
    assert.equal((await c.req('HEAD', `/v2/sock/pipe/blobs/${b.digest}`)).status, 200);
  });

  test('a client resetting the connection at a read boundary does not take the server down', async () => {
    let r = await c.req('POST', '/v2/sock/reset/blobs/uploads/');
    const loc = r.headers.get('location')!;
    for (const sent of [4 * MiB, 8 * MiB]) {
      const conn = await RawConnection.open(port(reg));
      conn.write(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${12 * MiB}\r\n\r\n`);
      // Reset as soon as the bytes are handed over: the server may still be writing the last
      // full read when its read ahead fails.
      await new Promise<void>((resolve) => conn.socket.write(Buffer.alloc(sent, 1), () => resolve()));
      conn.socket.resetAndDestroy();
      await sleep(200);
      r = await c.req('GET', '/v2/');
      assert.equal(r.status, 200, `serving after a reset at ${sent} bytes`);
    }
  });

  test('stopping the server with a body half sent closes that connection promptly', async () => {
    const other = await startTestRegistry({ engine: 'node' });
    const loc = (await new Client(other.url).req('POST', '/v2/sock/stop/blobs/uploads/')).headers.get('location')!;
    const conn = await RawConnection.open(port(other));
    conn.write(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${8 * MiB}\r\n\r\n`);
    conn.write(Buffer.alloc(2 * MiB, 2));
    await sleep(200);
    const started = Date.now();
    await other.stop();
    assert.ok(await conn.until(() => false, 5000).then(() => conn.closed), 'the connection was closed');
    assert.ok(Date.now() - started < 6000, `stop took ${Date.now() - started} ms`);
    conn.destroy();
  });

  test(`at most ${MAX_SOCKET_BODIES} bodies are read from the socket at once; the next takes node's parser`, async () => {
    const n = MAX_SOCKET_BODIES + 1;
    const blobs = Array.from({ length: n }, () => blob(3 * MiB));
    const conns: RawConnection[] = [];
    for (const b of blobs) {
      const conn = await RawConnection.open(port(reg));
      conn.write(`POST /v2/sock/cap/blobs/uploads/?digest=${b.digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.data.length}\r\n\r\n`);
      conn.write(b.data.subarray(0, MiB));
      conns.push(conn);
      // Each one is being read before the next arrives.
      await sleep(150);
    }
    conns.forEach((conn, i) => conn.write(blobs[i]!.data.subarray(MiB)));
    for (const conn of conns) assert.ok(await conn.until((t) => /\r\n\r\n/.test(t), 10_000));
    const closing = conns.map((conn) => /\r\nConnection: close\r\n/i.test(conn.text));
    assert.deepEqual(closing, [...Array(MAX_SOCKET_BODIES).fill(true), false]);
    for (const conn of conns) {
      assert.match(conn.text, /^HTTP\/1\.1 201 /);
      conn.destroy();
    }
    // Places are given back: the next large body is read from the socket again.
    const b = blob(2 * MiB);
    const r = await rawRequest(port(reg), `POST /v2/sock/cap/blobs/uploads/?digest=${b.digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.data.length}\r\n\r\n`, b.data);
    assert.match(r.text, /\r\nConnection: close\r\n/i);
  });

  /** A 3 MiB monolithic push to a registry started with `name=off`; the raw reply. */
  async function pushWithSwitchOff(name: string): Promise<{ text: string; closed: boolean }> {
    process.env[name] = 'off';
    const other = await startTestRegistry({ engine: 'node' });
    delete process.env[name];
    try {
      const b = blob(3 * MiB);
      return await rawRequest(port(other), `POST /v2/sock/off/blobs/uploads/?digest=${b.digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.data.length}\r\n\r\n`, b.data);
    } finally {
      await other.stop();
    }
  }

  test('SKIFF_SENDFILE=off (a switch about downloads) leaves large bodies read from the socket', async () => {
    const r = await pushWithSwitchOff('SKIFF_SENDFILE');
    assert.match(r.text, /^HTTP\/1\.1 201 /);
    assert.match(r.text, /\r\nConnection: close\r\n/i);
  });

  test('SKIFF_SOCKET_BODY=off keeps large bodies on node\'s parser and the connection open', async () => {
    const r = await pushWithSwitchOff('SKIFF_SOCKET_BODY');
    assert.match(r.text, /^HTTP\/1\.1 201 /);
    assert.doesNotMatch(r.text, /\r\nConnection: close\r\n/i);
    assert.equal(r.closed, false);
  });
});

describe('the socket reader under a slow consumer', { skip: built ? false : 'the native addon is not built' }, () => {
  test('a reset while the consumer still holds a chunk fails the body, with no unhandled rejection', async () => {
    const recv = nativeSocketRecv({});
    const outcome: { error?: string } = {};
    const server = createServer((req, res) => {
      void (async () => {
        const body = socketBody(req, res, recv, () => undefined)!.chunks;
        try {
          // A slow disk: the read ahead fails while this chunk is still being written.
          for await (const chunk of body) await sleep(chunk.length >= MiB ? 300 : 0);
        } catch (err) {
          outcome.error = (err as Error).message;
        }
        res.end();
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const unhandled: unknown[] = [];
    const note = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', note);
    try {
      const conn = await RawConnection.open((server.address() as { port: number }).port);
      conn.write(`PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: ${12 * MiB}\r\n\r\n`);
      await new Promise<void>((resolve) => conn.socket.write(Buffer.alloc(8 * MiB, 1), () => resolve()));
      await sleep(100);
      conn.socket.resetAndDestroy();
      for (let i = 0; i < 50 && outcome.error === undefined; i++) await sleep(50);
      assert.ok(outcome.error, 'the body failed');
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', note);
      server.closeAllConnections();
      server.close();
    }
  });
});
