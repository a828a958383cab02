/**
 * The addon's socket reads (native/sendfile/recv.c) on a real loopback connection: a read
 * returns once it has every byte asked for, a peer that ends early gives what came and eof,
 * one that sends nothing fails with ETIMEDOUT after the idle time, and cancel ends a read
 * in flight at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { loadSendfile } from '../../src/platform/native.ts';

const load = loadSendfile({});
const binding = load.ok && typeof load.binding.recv === 'function' ? load.binding : null;

/** A connected pair: `server` paused (node reads nothing from it) with its descriptor dup'd for the addon. */
async function pair(): Promise<{ fd: number; client: Socket; done(): void }> {
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  const s = await accepted;
  const fd = binding!.dup((s as unknown as { _handle: { fd: number } })._handle.fd);
  return {
    fd,
    client,
    done() {
      binding!.close(fd);
      client.destroy();
      s.destroy();
      server.close();
    },
  };
}

test('a read returns once every byte asked for has come, in order', { skip: !binding }, async () => {
  const p = await pair();
  try {
    const data = randomBytes(3 * 1024 * 1024 + 11);
    p.client.write(data);
    const buf = Buffer.alloc(data.length);
    const r = await binding!.recv!(p.fd, buf, data.length, 5000);
    assert.deepEqual(r, { got: data.length, eof: false });
    assert.ok(buf.equals(data));
  } finally {
    p.done();
  }
});

test('a peer that ends early gives what came and eof', { skip: !binding }, async () => {
  const p = await pair();
  try {
    p.client.end(Buffer.from('only this'));
    const r = await binding!.recv!(p.fd, Buffer.alloc(1024), 1024, 5000);
    assert.deepEqual(r, { got: 9, eof: true });
  } finally {
    p.done();
  }
});

test('a peer that sends nothing fails the read with ETIMEDOUT after the idle time', { skip: !binding }, async () => {
  const p = await pair();
  try {
    const started = Date.now();
    await assert.rejects(binding!.recv!(p.fd, Buffer.alloc(16), 16, 150), { code: 'ETIMEDOUT' });
    assert.ok(Date.now() - started >= 140);
  } finally {
    p.done();
  }
});

test('cancel ends a read in flight at once', { skip: !binding }, async () => {
  const p = await pair();
  try {
    const reading = binding!.recv!(p.fd, Buffer.alloc(16), 16, 60_000);
    const started = Date.now();
    setTimeout(() => binding!.recvCancel!(p.fd), 50);
    assert.deepEqual(await reading, { got: 0, eof: true });
    assert.ok(Date.now() - started < 5000);
  } finally {
    p.done();
  }
});

test('cancel ends a read in flight at once with data still coming', { skip: !binding }, async () => {
  const p = await pair();
  try {
    // A steady trickle, 64 KiB a millisecond at most: data is coming when the cancel lands.
    const chunk = Buffer.alloc(64 * 1024, 3);
    const timer = setInterval(() => p.client.write(chunk), 1);
    // More than will ever come before the cancel: the read can only end by it.
    const reading = binding!.recv!(p.fd, Buffer.alloc(64 * 1024 * 1024), 64 * 1024 * 1024, 60_000);
    setTimeout(() => binding!.recvCancel!(p.fd), 50);
    const started = Date.now();
    const r = await reading;
    clearInterval(timer);
    assert.ok(r.got < 64 * 1024 * 1024);
    assert.ok(Date.now() - started < 5000);
  } finally {
    p.done();
  }
});
