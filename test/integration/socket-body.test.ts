/**
 * Large request bodies on node:http read from the socket by the addon (http/node-socket-body.ts),
 * through the registry over real sockets: what is stored is exactly what was sent; a body read
 * to its end gives the connection back to node's parser (http/node-parser-rejoin.ts), so the
 * same connection carries the next request, pipelined or not; one the server could not read to
 * its end closes it; small and chunked-encoded bodies keep the ordinary path; a client hanging
 * up mid-body leaves a resumable session; and SKIFF_SOCKET_BODY=off turns it off.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '../helpers/client.ts';
import { blob } from '../helpers/content.ts';
import { RawConnection, sleep } from '../helpers/http-wire.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { createServer } from 'node:http';
import { loadSendfile, nativeSocketRecv } from '../../src/platform/native.ts';
import { MAX_SOCKET_BODIES, socketBody, socketBodyStats } from '../../src/http/node-socket-body.ts';

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
/** How many bodies the addon read, and gave back to node's parser, during `f`. */
async function counting<T>(f: () => Promise<T>): Promise<{ value: T; read: number; rejoined: number }> {
  const before = socketBodyStats();
  const value = await f();
  const after = socketBodyStats();
  return { value, read: after.read - before.read, rejoined: after.rejoined - before.rejoined };
}
/** What this process holds open under `dir`. */
async function openUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(`${dir}/`)) out.push(target);
  }
  return out;
}
/** The replies in `text` (status and head), in order; bodies are JSON or empty here. */
const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

describe('large bodies read from the socket (node:http)', { skip: built ? false : 'the native addon is not built' }, () => {
  let reg: TestRegistry;
  let c: Client;
  before(async () => {
    reg = await startTestRegistry({ engine: 'node' });
    c = new Client(reg.url);
  });
  after(() => reg.stop());

  test('a monolithic push is stored byte for byte, and the same connection carries the next request', async () => {
    const b = blob(6 * MiB + 12_345);
    const conn = await RawConnection.open(port(reg));
    const { read, rejoined } = await counting(async () => {
      conn.write(`POST /v2/sock/mono/blobs/uploads/?digest=${b.digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.data.length}\r\n\r\n`);
      conn.write(b.data);
      assert.ok(await conn.until((t) => /\r\n\r\n/.test(t), 10_000));
    });
    assert.deepEqual({ read, rejoined }, { read: 1, rejoined: 1 }, 'read from the socket, then given back to the parser');
    const reply = conn.consume();
    assert.match(reply, /^HTTP\/1\.1 201 /);
    assert.doesNotMatch(reply, /\r\nConnection: close\r\n/i);
    conn.write(`HEAD /v2/sock/mono/blobs/${b.digest} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.ok(await conn.until((t) => /\r\n\r\n/.test(t), 5000), 'the next request on the same connection was answered');
    assert.match(conn.text, /^HTTP\/1\.1 200 /);
    assert.equal(conn.closed, false);
    conn.destroy();
    const stored = await readFile(join(reg.root, 'sock/mono/blobs', b.digest.replace(':', '/')));
    assert.ok(stored.equals(b.data));
  });

  test('chunked PATCHes of known length and the closing PUT on one connection, each with a request pipelined behind it', async () => {
    const b = blob(7 * MiB + 3);
    const r = await c.req('POST', '/v2/sock/chunks/blobs/uploads/');
    let loc = r.headers.get('location')!;
    const cuts = [0, 3 * MiB, 3 * MiB + 1000, b.data.length];
    const conn = await RawConnection.open(port(reg));
    const { read, rejoined } = await counting(async () => {
      for (let i = 0; i + 1 < cuts.length; i++) {
        const [start, end] = [cuts[i]!, cuts[i + 1]!];
        // The next request follows the body at once: a large body must end exactly where it starts.
        conn.write(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Range: ${start}-${end - 1}\r\nContent-Length: ${end - start}\r\n\r\n`);
        conn.write(Buffer.concat([b.data.subarray(start, end), Buffer.from('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n')]));
        assert.ok(await conn.until((t) => statuses(t).length === 2 && /\r\n\r\n\{\}$/.test(t), 10_000), `two replies: ${conn.text.slice(0, 300)}`);
        const replies = conn.consume();
        assert.deepEqual(statuses(replies), [202, 200], `PATCH of ${end - start} bytes, then GET /v2/`);
        assert.doesNotMatch(replies, /\r\nConnection: close\r\n/i);
        loc = /\r\nLocation: ([^\r]+)\r\n/i.exec(replies)![1]!;
      }
      conn.write(`PUT ${loc}${loc.includes('?') ? '&' : '?'}digest=${b.digest} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
      assert.ok(await conn.until((t) => /\r\n\r\n/.test(t), 10_000));
    });
    assert.match(conn.text, /^HTTP\/1\.1 201 /);
    assert.deepEqual({ read, rejoined }, { read: 2, rejoined: 2 }, 'the two large PATCHes were read from the socket');
    assert.equal(conn.closed, false);
    conn.destroy();
    const stored = await readFile(join(reg.root, 'sock/chunks/blobs', b.digest.replace(':', '/')));
    assert.ok(stored.equals(b.data));
    // The session file, kept open from PATCH to PATCH, was closed when the PUT moved it.
    assert.deepEqual(await openUnder(join(reg.root, 'sock/chunks')), []);
  });

  test('a large PATCH refused before its body is read (its range does not follow) gets its 416, and the connection goes on', async () => {
    const b = blob(5 * MiB);
    const r = await c.req('POST', '/v2/sock/refused/blobs/uploads/');
    const loc = r.headers.get('location')!;
    // Sent in one go, as clients do: the reply is ready while most of the body is on its way.
    const conn = await RawConnection.open(port(reg));
    conn.write(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Range: 100-${100 + b.data.length - 1}\r\nContent-Length: ${b.data.length}\r\n\r\n`);
    conn.write(b.data);
    assert.ok(await conn.until((t) => /\r\n\r\n[\s\S]*\}/.test(t), 10_000), 'a reply');
    const reply = conn.consume();
    assert.match(reply, /^HTTP\/1\.1 416 /);
    assert.match(reply, /"code":"BLOB_UPLOAD_INVALID"|"code":"RANGE_INVALID"|"errors"/);
    assert.equal(conn.error, undefined, 'no reset');
    // The rest of the body was read and dropped, so the connection takes the next request;
    // and the session is as it was: empty, taking a PATCH from 0.
    conn.write(`GET ${loc} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.ok(await conn.until((t) => /\r\n\r\n/.test(t), 5000));
    assert.match(conn.text, /^HTTP\/1\.1 204 /);
    assert.match(conn.text, /\r\nRange: 0-0\r\n/i);
    conn.destroy();
  });

  test('a refused PATCH with more body left than is worth dropping closes the connection; the session is untouched', async () => {
    const b = blob(24 * MiB);
    const r = await c.req('POST', '/v2/sock/refused-big/blobs/uploads/');
    const loc = r.headers.get('location')!;
    const conn = await RawConnection.open(port(reg));
    const { read, rejoined } = await counting(async () => {
      conn.write(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Range: 100-${100 + b.data.length - 1}\r\nContent-Length: ${b.data.length}\r\n\r\n`);
      conn.write(b.data);
      assert.ok(await conn.until(() => conn.closed, 10_000), 'the server closed the connection');
    });
    assert.deepEqual({ read, rejoined }, { read: 1, rejoined: 0 });
    // The reply may be lost to a reset while the client is still sending; if it came, it says so.
    if (/\r\n\r\n/.test(conn.text)) {
      assert.match(conn.text, /^HTTP\/1\.1 416 /);
      assert.match(conn.text, /\r\nConnection: close\r\n/i);
    }
    conn.destroy();
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
    const before = socketBodyStats().read;
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
    assert.equal(socketBodyStats().read - before, MAX_SOCKET_BODIES);
    for (const conn of conns) {
      assert.match(conn.text, /^HTTP\/1\.1 201 /);
      conn.destroy();
    }
    // Places are given back: the next large body is read from the socket again.
    const b = blob(2 * MiB);
    const { value: r, read } = await counting(() => rawRequest(port(reg), `POST /v2/sock/cap/blobs/uploads/?digest=${b.digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.data.length}\r\n\r\n`, b.data));
    assert.match(r.text, /^HTTP\/1\.1 201 /);
    assert.equal(read, 1);
  });

  /** A 3 MiB monolithic push to a registry started with `name=off`; the raw reply and the bodies read from the socket. */
  async function pushWithSwitchOff(name: string): Promise<{ value: { text: string; closed: boolean }; read: number }> {
    process.env[name] = 'off';
    const other = await startTestRegistry({ engine: 'node' });
    delete process.env[name];
    try {
      const b = blob(3 * MiB);
      return await counting(() => rawRequest(port(other), `POST /v2/sock/off/blobs/uploads/?digest=${b.digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.data.length}\r\n\r\n`, b.data));
    } finally {
      await other.stop();
    }
  }

  test('SKIFF_SENDFILE=off (a switch about downloads) leaves large bodies read from the socket', async () => {
    const { value: r, read } = await pushWithSwitchOff('SKIFF_SENDFILE');
    assert.match(r.text, /^HTTP\/1\.1 201 /);
    assert.equal(read, 1);
  });

  test('SKIFF_SOCKET_BODY=off keeps large bodies on node\'s parser and the connection open', async () => {
    const { value: r, read } = await pushWithSwitchOff('SKIFF_SOCKET_BODY');
    assert.match(r.text, /^HTTP\/1\.1 201 /);
    assert.equal(read, 0);
    assert.doesNotMatch(r.text, /\r\nConnection: close\r\n/i);
    assert.equal(r.closed, false);
  });
});

describe('the socket reader on a bare node server', { skip: built ? false : 'the native addon is not built' }, () => {
  test('node\'s parser skips a body read past it without delivering it, and the connection takes the next request', async () => {
    const recv = nativeSocketRecv({});
    const seen: { got: number; pushed: number }[] = [];
    const server = createServer((req, res) => {
      // What node's parser hands the request (its own early bytes, and anything else).
      let pushed = 0;
      const push = req.push.bind(req);
      req.push = (chunk: Buffer | null) => {
        if (chunk) pushed += chunk.length;
        return push(chunk);
      };
      void (async () => {
        let got = 0;
        const body = socketBody(req, res, recv, () => undefined);
        for await (const chunk of body ? body.chunks : req) got += (chunk as Buffer).length;
        seen.push({ got, pushed });
        res.end('ok');
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const conn = await RawConnection.open((server.address() as { port: number }).port);
      for (const size of [4 * MiB, 3 * MiB]) {
        conn.write(`PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
        conn.write(Buffer.alloc(size, 7));
        assert.ok(await conn.until((t) => t.endsWith('\r\n\r\nok'), 5000), `reply to the ${size}-byte body`);
        assert.doesNotMatch(conn.consume(), /\r\nConnection: close\r\n/i);
      }
      assert.equal(conn.closed, false);
      assert.deepEqual(seen.map((s) => s.got), [4 * MiB, 3 * MiB]);
      for (const s of seen) assert.ok(s.pushed < MiB, `node delivered ${s.pushed} bytes itself (only what it read before the handler ran)`);
      conn.destroy();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('a reply whose head went out before the body was read closes the connection', async () => {
    const recv = nativeSocketRecv({});
    const server = createServer((req, res) => {
      void (async () => {
        const body = socketBody(req, res, recv, () => undefined)!.chunks;
        res.writeHead(200, { 'Content-Length': '2' });
        res.flushHeaders();
        for await (const chunk of body) void chunk;
        res.end('ok');
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const conn = await RawConnection.open((server.address() as { port: number }).port);
      const { rejoined } = await counting(async () => {
        conn.write(`PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 * MiB}\r\n\r\n`);
        conn.write(Buffer.alloc(2 * MiB, 1));
        assert.ok(await conn.until(() => conn.closed, 5000), 'closed after the reply');
      });
      assert.match(conn.text, /^HTTP\/1\.1 200 [\s\S]*\r\nConnection: close\r\n[\s\S]*\r\n\r\nok$/i);
      assert.equal(rejoined, 0);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });


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
