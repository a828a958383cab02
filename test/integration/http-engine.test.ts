/**
 * The HTTP engine contract, run unchanged against uWS and node:http over real
 * sockets on 127.0.0.1: routing, error envelopes, HEAD, keep-alive,
 * backpressure both ways, client aborts, TLS, graceful close, and the uWS
 * Content-Length limit.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startServer, type HttpServer } from '../../src/http/index.ts';
import { chooseHttpEngine, loadUws } from '../../src/platform/native.ts';
import { request, errorCodes, RawConnection, sleep } from '../helpers/http-wire.ts';
import { BIG, DIGEST, MiB, Probe, matchesPattern, routes } from '../helpers/http-engine-routes.ts';
import { connect, type Socket } from 'node:net';
import { startChildServer, type ChildServer } from '../helpers/http-engine-child.ts';
const fixture = (f: string) => fileURLToPath(new URL(`../fixtures/tls/${f}`, import.meta.url));

const uwsAvailable = loadUws().ok;

for (const engine of ['uws', 'node'] as const) {
  describe(`http engine: ${engine}`, { skip: engine === 'uws' && !uwsAvailable ? 'no uWS binary for this Node ABI' : false }, () => {
    const probe = new Probe();
    let server: HttpServer;
    let port: number;

    before(async () => {
      server = await startServer({
        address: '127.0.0.1',
        port: 0,
        engine,
        routes: routes(probe),
        hooks: {
          onUnexpectedError: (_ctx, err) => probe.unexpected.push(err),
          onComplete: (_ctx, info) => probe.completions.push(info),
        },
      });
      port = server.port;
    });
    after(() => server.close(1000));

    it('reports its engine and port', () => {
      assert.equal(server.engine, engine);
      assert.ok(port > 0);
    });

    it('routes with named params; raw path and repeated query keys reach the handler', async () => {
      const r = await request(port, `/v2/library/alpine/blobs/${DIGEST}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-name'], 'library/alpine');
      assert.equal(r.headers['docker-content-digest'], DIGEST);
      assert.equal(r.body.length, 1234);
      const c = await request(port, '/ctx/a%2Fb?tag=a&tag=b&n=2', { headers: { 'X-Request-Id': 'req-123' } });
      const body = JSON.parse(c.body.toString());
      assert.deepEqual(
        { method: body.method, path: body.path, rawQuery: body.rawQuery, tags: body.tags, n: body.n, remote: body.remote, secure: body.secure, id: body.id },
        { method: 'GET', path: '/ctx/a%2Fb', rawQuery: 'tag=a&tag=b&n=2', tags: ['a', 'b'], n: '2', remote: '127.0.0.1', secure: false, id: 'req-123' },
      );
      assert.equal(c.headers['x-request-id'], 'req-123');
      const generated = await request(port, '/v2/');
      assert.match(String(generated.headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-z]+$/);
    });

    it('joins repeated request headers with ", "', async () => {
      const conn = await RawConnection.open(port);
      conn.write('GET /ctx HTTP/1.1\r\nHost: x\r\nX-Dup: a\r\nX-Dup: b\r\n\r\n');
      assert.ok(await conn.until((t) => t.includes('"dup"')));
      assert.match(conn.text, /"dup":"a, b"/);
      conn.destroy();
    });

    it('answers unknown paths with a NOT_FOUND envelope and wrong methods with 405 + Allow', async () => {
      const nf = await request(port, '/nope');
      assert.equal(nf.status, 404);
      assert.deepEqual(errorCodes(nf.body), ['NOT_FOUND']);
      assert.equal(nf.headers['content-type'], 'application/json');
      const na = await request(port, '/v2/', { method: 'DELETE' });
      assert.equal(na.status, 405);
      assert.deepEqual(errorCodes(na.body), ['METHOD_NOT_ALLOWED']);
      assert.equal(na.headers['allow'], 'GET');
      const naBlob = await request(port, `/v2/a/blobs/${DIGEST}`, { method: 'PUT', body: 'x' });
      assert.equal(naBlob.headers['allow'], 'GET, HEAD');
    });

    it('maps a thrown RegistryError to its status and a generic error to an opaque 500', async () => {
      const r = await request(port, '/fail/registry');
      assert.equal(r.status, 404);
      const env = JSON.parse(r.body.toString());
      assert.equal(env.errors[0].code, 'BLOB_UNKNOWN');
      assert.equal(env.errors[0].detail.digest, DIGEST);
      const before = probe.unexpected.length;
      const c = await request(port, '/fail/crash');
      assert.equal(c.status, 500);
      assert.deepEqual(errorCodes(c.body), ['INTERNAL']);
      assert.ok(!c.body.toString().includes('kaboom'));
      assert.equal(probe.unexpected.length, before + 1);
    });

    it('HEAD reports the handler Content-Length, sends no body, and keeps the connection', async () => {
      const conn = await RawConnection.open(port);
      for (let i = 0; i < 3; i++) {
        conn.write(`HEAD /v2/library/alpine/blobs/${DIGEST} HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.ok(await conn.until((t) => t.includes('\r\n\r\n')), 'HEAD answered');
        await sleep(30); // any stray body bytes would arrive now
        const head = conn.consume();
        assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
        assert.match(head, /\r\ncontent-length: 1234\r\n/i);
        assert.equal((head.match(/content-length/gi) ?? []).length, 1);
        assert.ok(head.endsWith('\r\n\r\n'), 'no body after the headers');
      }
      conn.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.ok(await conn.until((t) => t.endsWith('{}')), 'same connection still serves');
      assert.equal(conn.closed, false);
      conn.destroy();
    });

    it('reuses keep-alive connections', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const rs = [];
      for (let i = 0; i < 4; i++) rs.push(await request(port, '/v2/', { agent }));
      assert.deepEqual(rs.map((r) => r.reusedSocket), [false, true, true, true]);
      agent.destroy();
    });

    it('an unread request body does not wedge the connection', async () => {
      // Raw socket: node's client never reuses a socket whose response ended
      // before its body was sent, which would hide a server-side wedge.
      const conn = await RawConnection.open(port);
      for (const size of [100, 16 * MiB]) {
        conn.write(`PUT /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
        conn.write(Buffer.alloc(size, 1));
        conn.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
        assert.ok(await conn.until((t) => t.endsWith('{}'), 5000), `next request answered after an unread ${size}-byte body`);
        assert.match(conn.consume(), /^HTTP\/1\.1 202 Accepted\r\n[\s\S]*HTTP\/1\.1 200 OK\r\n/);
      }
      assert.equal(conn.closed, false);
      conn.destroy();
    });

    describe('memory under backpressure (server in a child process)', () => {
      let child: ChildServer;
      before(async () => {
        child = await startChildServer(engine);
      });
      after(() => child.stop());

      /** Poll the child's retained RSS (after gc) while `fn` runs; also sample `lead()`. */
      async function watch(fn: () => Promise<void>, lead: (m: { produced: number; consumed: number }) => number) {
        const base = await child.mem();
        let peakRss = 0;
        let maxLead = 0;
        let running = true;
        const poller = (async () => {
          while (running) {
            const m = await child.mem();
            peakRss = Math.max(peakRss, m.rss - base.rss);
            maxLead = Math.max(maxLead, lead({ produced: m.produced - base.produced, consumed: m.consumed - base.consumed }));
            await sleep(50);
          }
        })();
        try {
          await fn();
        } finally {
          running = false;
          await poller;
        }
        return { peakRss, maxLead };
      }

      it('streams a 64 MiB download to a slow reader with bounded server memory', async (t) => {
        let received = 0;
        const { peakRss, maxLead } = await watch(
          () =>
            new Promise<void>((resolve, reject) => {
              http.get({ host: '127.0.0.1', port: child.port, path: '/download', agent: false }, async (res) => {
                try {
                  assert.equal(res.headers['content-length'], String(BIG));
                  let since = 0;
                  for await (const c of res) {
                    received += (c as Buffer).length;
                    since += (c as Buffer).length;
                    if (since >= MiB) {
                      since = 0;
                      await sleep(25); // a slow reader: ~40 MiB/s
                    }
                  }
                  resolve();
                } catch (e) {
                  reject(e);
                }
              }).on('error', reject);
            }),
          (m) => m.produced - received,
        );
        t.diagnostic(`server ahead of reader by at most ${(maxLead / MiB).toFixed(1)} MiB; server retained RSS +${(peakRss / MiB).toFixed(1)} MiB`);
        assert.equal(received, BIG);
        assert.ok(maxLead < 24 * MiB, `server ran ${(maxLead / MiB).toFixed(1)} MiB ahead of the reader`);
        assert.ok(peakRss < 24 * MiB, `server RSS grew ${(peakRss / MiB).toFixed(1)} MiB for a ${BIG / MiB} MiB body`);
      });

      it('receives a 64 MiB upload consumed slowly with bounded server memory (socket paused)', async (t) => {
        const data = Buffer.alloc(BIG);
        for (let i = 0; i < BIG; i += 4096) data[i] = i & 0xff;
        const want = `sha256:${createHash('sha256').update(data).digest('hex')}`;
        let written = 0;
        let result: { bytes: number; digest: string; received: number } | undefined;
        const { peakRss, maxLead } = await watch(
          async () => {
            result = await new Promise((resolve, reject) => {
              const req = http.request({ host: '127.0.0.1', port: child.port, path: '/upload', method: 'PUT', agent: false, headers: { 'Content-Length': BIG } }, (res) => {
                const parts: Buffer[] = [];
                res.on('data', (c: Buffer) => parts.push(c));
                res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString())));
              });
              req.on('error', reject);
              const pump = () => {
                while (written < BIG) {
                  const ok = req.write(data.subarray(written, written + 256 * 1024));
                  written += 256 * 1024;
                  if (!ok) return void req.once('drain', pump);
                }
                req.end();
              };
              pump();
            });
          },
          (m) => written - m.consumed,
        );
        t.diagnostic(`client ahead of consumer by at most ${(maxLead / MiB).toFixed(1)} MiB; server retained RSS +${(peakRss / MiB).toFixed(1)} MiB`);
        assert.deepEqual(result, { bytes: BIG, digest: want, received: BIG });
        assert.ok(maxLead < 24 * MiB, `client got ${(maxLead / MiB).toFixed(1)} MiB ahead of the consumer`);
        assert.ok(peakRss < 24 * MiB, `server RSS grew ${(peakRss / MiB).toFixed(1)} MiB for a ${BIG / MiB} MiB body`);
      });
    });

    it('a client abort mid-upload fires the signal and fails the body read; serving continues', async () => {
      probe.reset();
      const conn = await RawConnection.open(port);
      conn.write(`PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${BIG}\r\n\r\n`);
      const chunk = Buffer.alloc(MiB, 7);
      for (let i = 0; i < 8; i++) conn.write(chunk);
      const deadline = Date.now() + 3000;
      while (probe.consumed < MiB && Date.now() < deadline) await sleep(10);
      conn.destroy();
      await Promise.race([probe.uploadDone, sleep(3000)]);
      assert.ok(probe.uploadError, 'the body iterator threw');
      assert.equal(probe.uploadSignalAborted, true);
      assert.equal((await request(port, '/v2/')).status, 200);
    });

    it('a client abort mid-download stops the source stream; serving continues', async () => {
      probe.reset();
      const completions = probe.completions.length;
      await hangUpAfter(port, '/download', 2 * MiB);
      const deadline = Date.now() + 3000;
      while (!probe.downloadClosed && Date.now() < deadline) await sleep(10);
      assert.equal(probe.downloadClosed, true, 'the generator was closed');
      assert.ok(probe.produced < BIG, 'the source was not read to the end');
      while (probe.completions.length === completions && Date.now() < deadline) await sleep(10);
      const last = probe.completions.at(-1);
      assert.deepEqual(last && { route: last.route, status: last.status, aborted: last.aborted }, { route: 'download', status: 200, aborted: true });
      assert.equal((await request(port, '/v2/')).status, 200);
    });

    /** GET /download-into?size=; reads slowly when `pauseMsPerMiB`, not at all for `stallMs` after the first bytes; resolves bytes that matched the pattern. */
    function downloadInto(size: number, pauseMsPerMiB = 0, reread = false, stallMs = 0): Promise<number> {
      return new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: `/download-into?size=${size}${reread ? '&reread=1' : ''}`, agent: false }, async (res) => {
          try {
            assert.equal(res.statusCode, 200);
            assert.equal(res.headers['content-length'], String(size));
            let at = 0;
            let since = 0;
            for await (const c of res) {
              assert.ok(matchesPattern(c as Buffer, at), `body bytes at ${at} are not the source's`);
              // Not reading for a while after the first bytes: the server's socket fills up.
              if (stallMs && at === 0) await sleep(stallMs);
              at += (c as Buffer).length;
              since += (c as Buffer).length;
              if (pauseMsPerMiB && since >= MiB) {
                since = 0;
                await sleep(pauseMsPerMiB);
              }
            }
            resolve(at);
          } catch (e) {
            reject(e);
          }
        }).on('error', reject);
      });
    }

    it('a readInto source (blob files) streams intact, fast and to a slow reader', async () => {
      assert.equal(await downloadInto(4 * MiB + 12345), 4 * MiB + 12345);
      assert.equal(await downloadInto(16 * MiB, 20), 16 * MiB);
      assert.equal(await downloadInto(1), 1);
    });

    it('a source that reads again (a blob file) streams intact to slow readers, several at once', async () => {
      probe.reset();
      // More slow readers than may hold pooled buffers while their sockets drain (half the pool).
      const sizes = Array.from({ length: 12 }, (_, i) => 6 * MiB + i * 4321);
      const got = await Promise.all(sizes.map((n, i) => downloadInto(n, 15 + i, true, 300)));
      assert.deepEqual(got, sizes);
      if (engine === 'uws') assert.ok(probe.reread > 0, 'slow sockets let chunks go and read them again');
      // Kept open for reading again, the source is still closed once the response is done.
      probe.reset();
      assert.equal(await downloadInto(3 * MiB, 0, true), 3 * MiB);
      const deadline = Date.now() + 3000;
      while (!probe.downloadClosed && Date.now() < deadline) await sleep(10);
      assert.equal(probe.downloadClosed, true, 'the source was closed after the last byte');
    });

    for (const [count, reread] of [[3, false], [3, true], [24, false], [24, true]] as const) {
      it(`${count} readers that stop reading do not hold up other downloads${reread ? ' (a source that reads again)' : ''}`, async () => {
        // Three stalled responses could keep all 8 pooled buffers (the chunk being sent and two
        // read ahead each); 24 are more than there are buffers. Unless they give buffers back
        // while their sockets are full, the next download waits for their timeouts.
        const stalled: Socket[] = [];
        try {
          for (let i = 0; i < count; i++) {
            const sock = connect(port, '127.0.0.1');
            sock.on('error', () => undefined);
            sock.write(`GET /download-into?size=${64 * MiB}${reread ? '&reread=1' : ''} HTTP/1.1\r\nHost: x\r\n\r\n`);
            sock.once('data', () => sock.pause());
            stalled.push(sock);
          }
          await sleep(500);
          const started = Date.now();
          assert.equal(await downloadInto(8 * MiB), 8 * MiB);
          assert.ok(Date.now() - started < 5000, `a download beside stalled readers took ${Date.now() - started} ms`);
        } finally {
          for (const sock of stalled) sock.destroy();
        }
        assert.equal(await downloadInto(MiB, 0, reread), MiB, 'serving continues after the stalled readers left');
      });
    }

    it('a body read in lend mode, with waits between chunks, arrives intact', async () => {
      probe.reset();
      const data = randomBytes(24 * MiB + 777);
      const want = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      const r = await request(port, '/upload?lend=1', { method: 'PUT', body: data, agent: false });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body.toString()), { bytes: data.length, digest: want, received: data.length });
    });

    it('a client abort mid-download stops a readInto source', async () => {
      probe.reset();
      await hangUpAfter(port, `/download-into?size=${BIG}`, 2 * MiB);
      const deadline = Date.now() + 3000;
      while (!probe.downloadClosed && Date.now() < deadline) await sleep(10);
      assert.equal(probe.downloadClosed, true, 'the source was destroyed');
      assert.ok(probe.produced < BIG, 'the source was not read to the end');
      assert.equal(await downloadInto(MiB), MiB);
    });

    it(`a Content-Length of 1,000,000,000 or more is ${engine === 'uws' ? 'answered 413 before uWS drops it' : 'accepted'}`, async () => {
      const conn = await RawConnection.open(port);
      conn.write('PUT /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n');
      conn.write(Buffer.alloc(64 * 1024));
      if (engine === 'uws') {
        await conn.until(() => false, 3000); // until uWS closes the socket
        assert.equal(conn.closed, true, 'uWS closes the connection');
        assert.match(conn.text, /^HTTP\/1\.1 413 Payload Too Large\r\n/);
        assert.match(conn.text, /"code":"PAYLOAD_TOO_LARGE"/);
        assert.equal(server.maxRequestContentLength, 999_999_999);
      } else {
        assert.ok(await conn.until((t) => t.includes('\r\n\r\n')));
        assert.match(conn.text, /^HTTP\/1\.1 202 Accepted\r\n/);
        assert.equal(server.maxRequestContentLength, undefined);
      }
      conn.destroy();
      const ok = await RawConnection.open(port);
      ok.write('PUT /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n');
      assert.ok(await ok.until((t) => t.includes('\r\n\r\n')));
      assert.match(ok.text, /^HTTP\/1\.1 202 Accepted\r\n/, '999,999,999 is still accepted');
      ok.destroy();
    });

    it('serves over TLS', async () => {
      const tlsServer = await startServer({ address: '127.0.0.1', port: 0, engine, routes: routes(new Probe()), tls: { cert: fixture('cert.pem'), key: fixture('key.pem') } });
      try {
        const r = await request(tlsServer.port, '/ctx', { tls: true });
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.body.toString()).secure, true);
        const b = await request(tlsServer.port, `/v2/a/blobs/${DIGEST}`, { tls: true, method: 'HEAD' });
        assert.equal(b.headers['content-length'], '1234');
        if (engine === 'uws') {
          // The padded 413 must also get out through the TLS cork path.
          const conn = await RawConnection.open(tlsServer.port, { tls: true });
          conn.write('PUT /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n');
          await conn.until(() => false, 3000);
          assert.match(conn.text, /^HTTP\/1\.1 413 Payload Too Large\r\n/);
          conn.destroy();
        }
      } finally {
        await tlsServer.close(500);
      }
    });

    it('closes gracefully: in-flight requests finish, new connections are refused', async () => {
      const s = await startServer({ address: '127.0.0.1', port: 0, engine, routes: routes(new Probe()) });
      const inflight = request(s.port, '/slow');
      await sleep(50);
      const closed = s.close(3000);
      const r = await inflight;
      assert.equal(r.status, 200);
      await closed;
      await assert.rejects(request(s.port, '/v2/', { agent: false }), /ECONNREFUSED/);
    });
  });
}

describe('engine selection', () => {
  it('falls back to node:http, with a reason, when no uWS binary matches (TLS, where uWS would serve)', async () => {
    const tls = JSON.stringify({ cert: fixture('cert.pem'), key: fixture('key.pem') });
    const start = (opts: string) =>
      `import('./src/http/index.ts').then(async (m) => { const s = await m.startServer({ address: '127.0.0.1', port: 0, routes: [], ${opts} }); console.log(JSON.stringify({ engine: s.engine, reason: s.fallbackReason })); await s.close(100); })`;
    const run = (opts: string) => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', start(opts)], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        env: { ...process.env, SKIFF_UWS_BINARY: '/nonexistent/uws.node', SKIFF_HTTP_ENGINE: '' },
      }).toString();
      return JSON.parse(out.trim().split('\n').at(-1)!) as { engine: string; reason?: string };
    };
    const secure = run(`tls: ${tls}`);
    assert.equal(secure.engine, 'node');
    assert.match(secure.reason ?? '', /SKIFF_UWS_BINARY=\/nonexistent\/uws\.node does not exist/);
    // Plain HTTP is node:http's whatever the binary: it says why, without loading uWS at all.
    const plain = run('');
    assert.equal(plain.engine, 'node');
    assert.match(plain.reason ?? '', /plain HTTP/);
  });

  it('rejects an unknown SKIFF_HTTP_ENGINE', () => {
    assert.throws(() => chooseHttpEngine(undefined, { SKIFF_HTTP_ENGINE: 'fast' }), /must be "uws" or "node"/);
    assert.equal(chooseHttpEngine(undefined, { SKIFF_HTTP_ENGINE: 'node' }).engine, 'node');
  });

  it('with tls.cacert, runs node:https, which requires client certificates and shows them to handlers', async () => {
    const tlsOpts = { cert: fixture('cert.pem'), key: fixture('key.pem'), cacert: fixture('cert.pem') };
    const s = await startServer({ address: '127.0.0.1', port: 0, routes: routes(new Probe()), tls: tlsOpts });
    try {
      assert.equal(s.engine, 'node');
      if (uwsAvailable) assert.match(s.fallbackReason ?? '', /cacert/);
      await assert.rejects(request(s.port, '/v2/', { tls: true, agent: false }), /certificate required|ECONNRESET|socket hang up/);
      // The fixture is self-signed, so it is its own CA: a valid client certificate here.
      const clientCert = { cert: readFileSync(fixture('cert.pem')), key: readFileSync(fixture('key.pem')) };
      const r = await request(s.port, '/ctx', { tls: true, agent: false, clientCert });
      assert.equal(r.status, 200);
      const peer = JSON.parse(r.body.toString()).peer;
      assert.deepEqual(peer, { subject: { CN: 'localhost' }, subjectText: 'CN=localhost', dnsNames: ['localhost'], emails: [], uris: [] });
    } finally {
      await s.close(100);
    }
    if (uwsAvailable) {
      await assert.rejects(startServer({ address: '127.0.0.1', port: 0, engine: 'uws', routes: [], tls: tlsOpts }), /not supported by the uWS engine/);
    }
  });
});

/** GETs `path` and hangs up once `bytes` have arrived, as a client that gives up mid-download. */
function hangUpAfter(port: number, path: string, bytes: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path }, (res) => {
      let got = 0;
      res.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= bytes) {
          req.destroy();
          resolve();
        }
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(e)));
  });
}
