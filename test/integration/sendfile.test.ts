/**
 * Blob downloads by sendfile(2) on node:http (native/sendfile + http/node-sendfile.ts),
 * over real sockets on 127.0.0.1 with a real file: whole bodies and ranges arrive intact,
 * most bytes go by sendfile, a reader that stops for a while still gets every byte, a
 * client hanging up leaks no descriptor, keep-alive survives, and with the addon turned off
 * the same routes still work by copying.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer, type HttpServer, type Route, type StreamBody } from '../../src/http/index.ts';
import { loadSendfile } from '../../src/platform/native.ts';
import { CROWD, sendBufferBytes } from '../../src/http/node-sendfile.ts';
import { FileRange, type FileSender } from '../../src/storage/layout/file-range.ts';
import { tempDir } from '../helpers/tmp.ts';
import { sleep } from '../helpers/http-wire.ts';

const MiB = 1024 * 1024;
const SIZE = 24 * MiB + 12_345;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What the file ranges served so far did: bytes moved by the sender, blocked sends, closes. */
class Tally {
  sentBytes = 0;
  blocked = 0;
  openRanges = 0;
}

function fileRoutes(file: string, tally: Tally): Route[] {
  const serve = async (start: number, end: number): Promise<StreamBody> => {
    const range = new FileRange(await open(file, 'r'), start, end - start + 1, 512 * 1024);
    tally.openRanges++;
    let closed = false;
    const closeOnce = () => {
      if (!closed) tally.openRanges--;
      closed = true;
    };
    // The real FileRange, with its sender's results counted on the way through.
    const stream = Object.assign(Object.create(range) as FileRange, {
      readInto: (t: Buffer) => range.readInto(t).finally(() => range.remaining === 0 && closeOnce()),
      sendWith: (send: FileSender, max: number) =>
        range.sendWith(async (fd, position, count) => {
          const r = await send(fd, position, count);
          tally.sentBytes += r.sent;
          if (r.blocked) tally.blocked++;
          return r;
        }, max).finally(() => range.remaining === 0 && closeOnce()),
      destroy: () => {
        range.destroy();
        closeOnce();
      },
      [Symbol.asyncIterator]: () => range[Symbol.asyncIterator](),
      keepOpen: () => range.keepOpen(),
      readAt: (t: Buffer, at: number) => range.readAt(t, at),
    });
    // The range's own getter: its private fields are not on the wrapper.
    Object.defineProperty(stream, 'position', { get: () => range.position });
    return { stream, length: end - start + 1 };
  };
  return [
    {
      name: 'file',
      methods: ['GET'],
      pattern: /^\/file(?:\/(?<start>\d+)-(?<end>\d+))?$/,
      handler: async (ctx) => {
        const start = Number(ctx.params.start ?? 0);
        const end = Number(ctx.params.end ?? SIZE - 1);
        const body = await serve(start, end);
        return { status: ctx.params.start ? 206 : 200, headers: { 'Content-Length': body.length, 'Content-Type': 'application/octet-stream' }, body };
      },
    },
  ];
}

/** GET over one socket with node's client; resolves the body and whether the socket was reused. */
function get(port: number, path: string, agent: http.Agent): Promise<{ status: number; body: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const openFds = () => readdirSync('/proc/self/fd').length;

/** GETs /file on a raw socket and hangs up once more than 2 MiB have come. */
function hangUpMidDownload(port: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.write('GET /file HTTP/1.1\r\nHost: x\r\n\r\n');
  let got = 0;
  return new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      got += d.length;
      if (got > 2 * MiB) {
        socket.destroy();
        resolve();
      }
    });
  });
}

describe('sendfile downloads on node:http', () => {
  const tally = new Tally();
  let content: Buffer;
  let server: HttpServer;
  let copying: HttpServer;
  let cleanup: () => Promise<void>;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  /** Server-side errors: a client hanging up is not one. */
  const unexpected: unknown[] = [];

  before(async () => {
    assert.ok(loadSendfile().ok, `the sendfile addon must be built here (node scripts/build-native.mjs --strict): ${JSON.stringify(loadSendfile())}`);
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    content = randomBytes(SIZE);
    const file = join(tmp.dir, 'blob');
    await writeFile(file, content);
    server = await startServer({
      address: '127.0.0.1',
      port: 0,
      engine: 'node',
      routes: fileRoutes(file, tally),
      hooks: { onUnexpectedError: (_ctx, err) => unexpected.push(err) },
    });
    process.env.SKIFF_SENDFILE = 'off';
    try {
      copying = await startServer({ address: '127.0.0.1', port: 0, engine: 'node', routes: fileRoutes(file, new Tally()) });
    } finally {
      delete process.env.SKIFF_SENDFILE;
    }
  });
  after(async () => {
    agent.destroy();
    await server.close(1000);
    await copying.close(1000);
    await cleanup();
  });

  it('says how downloads leave', () => {
    assert.equal(server.downloads, 'sendfile');
    assert.equal(copying.downloads, 'copy');
    assert.equal(copying.copyReason, 'SKIFF_SENDFILE=off');
  });

  it('sends a whole file intact, most of it by sendfile, and keeps the connection', async () => {
    const before = tally.sentBytes;
    const first = await get(server.port, '/file', agent);
    assert.equal(first.status, 200);
    assert.equal(first.body.length, SIZE);
    assert.equal(sha(first.body), sha(content));
    assert.ok(tally.sentBytes - before > SIZE * 0.5, `sendfile moved ${tally.sentBytes - before} of ${SIZE} bytes`);
    // The next request on the same keep-alive socket: node's framing survived the bytes
    // written beneath it.
    const second = await get(server.port, '/file/100-199', agent);
    assert.equal(second.reused, true);
    assert.equal(second.status, 206);
    assert.deepEqual(second.body, content.subarray(100, 200));
  });

  it('sends ranges at odd offsets, small and large', async () => {
    for (const [start, end] of [[0, 0], [1, 65_536], [12_345, SIZE - 1], [SIZE - 3, SIZE - 1], [7 * MiB + 1, 19 * MiB - 7]] as const) {
      const r = await get(server.port, `/file/${start}-${end}`, agent);
      assert.equal(r.body.length, end - start + 1, `range ${start}-${end}`);
      assert.ok(r.body.equals(content.subarray(start, end + 1)), `range ${start}-${end} bytes`);
    }
  });

  it('a reader that stops for a while still gets every byte (the socket filled and drained)', async () => {
    const blockedBefore = tally.blocked;
    const socket = connect(server.port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.pause();
    socket.write('GET /file HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(400);
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.resume();
    const want = SIZE;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        const all = Buffer.concat(parts);
        const head = all.indexOf('\r\n\r\n');
        if (head >= 0 && all.length - head - 4 >= want) resolve();
      };
      socket.on('data', check);
      socket.on('error', reject);
      setTimeout(() => reject(new Error('timed out')), 20_000).unref();
    });
    socket.destroy();
    const all = Buffer.concat(parts);
    const body = all.subarray(all.indexOf('\r\n\r\n') + 4);
    assert.equal(body.length, SIZE);
    assert.equal(sha(body), sha(content));
    assert.ok(tally.blocked > blockedBefore, 'the stalled reader made sendfile find the socket full');
  });

  it('a client hanging up mid-download leaks no descriptor, and the next download works', async () => {
    const baseline = openFds();
    for (let i = 0; i < 5; i++) await hangUpMidDownload(server.port);
    const deadline = Date.now() + 5000;
    while ((tally.openRanges > 0 || openFds() > baseline) && Date.now() < deadline) await sleep(50);
    assert.equal(tally.openRanges, 0, 'every file range was closed');
    assert.deepEqual(unexpected, [], 'hang-ups are not server errors');
    assert.ok(openFds() <= baseline, `descriptors: ${openFds()} open, ${baseline} before`);
    const r = await get(server.port, '/file', agent);
    assert.equal(sha(r.body), sha(content));
  });

  it('several downloads at once each get their bytes', async () => {
    const agents = Array.from({ length: 6 }, () => new http.Agent({ keepAlive: false }));
    const results = await Promise.all(agents.map((a, i) => get(server.port, i % 2 ? '/file' : `/file/${i * 1000}-${SIZE - 1 - i}`, a)));
    results.forEach((r, i) => {
      const want = i % 2 ? content : content.subarray(i * 1000, SIZE - i);
      assert.ok(r.body.equals(want), `download ${i}`);
    });
  });

  it('with SKIFF_SENDFILE=off the same file is copied, intact', async () => {
    const copyAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const r = await get(copying.port, '/file', copyAgent);
      assert.equal(sha(r.body), sha(content));
      const part = await get(copying.port, '/file/5-70000', copyAgent);
      assert.ok(part.body.equals(content.subarray(5, 70_001)));
    } finally {
      copyAgent.destroy();
    }
  });

  it('with SKIFF_SENDFILE=off, files kept open for reading again are closed after complete and cut-off downloads', async () => {
    // A handle left open is closed by node on garbage collection, with a warning: watch for
    // that too, or a leak could pass the descriptor count below.
    const gcCloses: string[] = [];
    const onWarning = (w: Error) => {
      if (/on garbage collection/.test(w.message)) gcCloses.push(w.message);
    };
    process.on('warning', onWarning);
    const baseline = openFds();
    const copyAgent = new http.Agent({ keepAlive: false });
    try {
      for (let i = 0; i < 3; i++) assert.equal(sha((await get(copying.port, '/file', copyAgent)).body), sha(content));
    } finally {
      copyAgent.destroy();
    }
    for (let i = 0; i < 3; i++) await hangUpMidDownload(copying.port);
    const deadline = Date.now() + 2000;
    while (openFds() > baseline && Date.now() < deadline) await sleep(50);
    await sleep(100);
    process.off('warning', onWarning);
    assert.deepEqual(gcCloses, [], 'no file was left for the garbage collector to close');
    assert.ok(openFds() <= baseline, `descriptors: ${openFds()} open, ${baseline} before`);
  });

  it(`sets a fixed send buffer from the ${CROWD}th download at once: 512 KiB by default, SKIFF_SEND_BUFFER bytes when set (the kernel doubles it)`, async () => {
    /** Starts a download whose reader holds it open; resolves once it is blocked, with its server side's `tb` (ss's skmem). */
    const held: ReturnType<typeof connect>[] = [];
    const holdDownload = async (): Promise<number> => {
      const sock = connect(server.port, '127.0.0.1');
      held.push(sock);
      await new Promise((resolve) => sock.once('connect', resolve));
      const local = sock.localPort;
      sock.pause();
      const blockedBefore = tally.blocked;
      sock.write('GET /file HTTP/1.1\r\nHost: x\r\n\r\n');
      for (let i = 0; i < 100; i++) {
        await sleep(20);
        const ss = spawnSync('ss', ['-tmnH', 'state', 'established', `( sport = :${server.port} and dport = :${local} )`], { encoding: 'utf8' });
        const tb = /\btb(\d+)/.exec(ss.stdout);
        if (tb && tally.blocked > blockedBefore) return Number(tb[1]);
      }
      throw new Error('no blocked download seen');
    };
    try {
      const alone = await holdDownload();
      assert.notEqual(alone, 2 * 512 * 1024, 'a lone download keeps the kernel tuning');
      for (let i = 2; i < CROWD; i++) await holdDownload();
      assert.equal(await holdDownload(), 2 * 512 * 1024);
      process.env.SKIFF_SEND_BUFFER = String(MiB);
      try {
        assert.equal(await holdDownload(), 2 * MiB);
      } finally {
        delete process.env.SKIFF_SEND_BUFFER;
      }
    } finally {
      for (const sock of held) sock.destroy();
    }
  });
});

describe('SKIFF_SEND_BUFFER', () => {
  it('is 512 KiB unless set; auto leaves the kernel tuning; a bad value keeps the default', () => {
    assert.equal(sendBufferBytes({}), 512 * 1024);
    assert.equal(sendBufferBytes({ SKIFF_SEND_BUFFER: '' }), 512 * 1024);
    assert.equal(sendBufferBytes({ SKIFF_SEND_BUFFER: 'auto' }), 0);
    assert.equal(sendBufferBytes({ SKIFF_SEND_BUFFER: '1048576' }), MiB);
    for (const bad of ['0', '-5', '1.5', 'lots', '4294967296']) assert.equal(sendBufferBytes({ SKIFF_SEND_BUFFER: bad }), 512 * 1024, bad);
  });
});
