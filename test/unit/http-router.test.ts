import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRoutes } from '../../src/http/router.ts';
import { createContext, toWireReply } from '../../src/http/dispatch.ts';
import { LazyAbort } from '../../src/http/lazy-abort.ts';
import { parseSubjectAltName } from '../../src/http/peer-cert.ts';
import type { Route } from '../../src/http/types.ts';

const h = () => ({ status: 200 });
const route = (name: string, methods: string[], pattern: RegExp): Route => ({ name, methods, pattern, handler: h });

describe('http router', () => {
  const router = compileRoutes([
    route('manifest', ['GET', 'HEAD'], /^\/v2\/(?<name>[a-z0-9/]+?)\/manifests\/(?<ref>[^/]+)$/),
    route('manifest-put', ['PUT', 'DELETE'], /^\/v2\/(?<name>[a-z0-9/]+?)\/manifests\/(?<ref>[^/]+)$/),
    route('tags', ['GET'], /^\/v2\/(?<name>[a-z0-9/]+?)\/tags\/list(?:\/(?<extra>x))?$/),
    route('base', ['GET'], /^\/v2\/$/),
  ]);

  it('returns the first route whose pattern and method match, with named params', () => {
    const m = router.match('GET', '/v2/library/alpine/manifests/latest');
    assert.equal(m.kind, 'hit');
    assert.equal(m.kind === 'hit' && m.route.name, 'manifest');
    assert.deepEqual(m.kind === 'hit' && m.params, { name: 'library/alpine', ref: 'latest' });
    const put = router.match('put', '/v2/a/manifests/sha256:00');
    assert.equal(put.kind === 'hit' && put.route.name, 'manifest-put');
  });

  it('gives a repeated request the same answer, which a handler cannot alter', () => {
    const first = router.match('GET', '/v2/x/manifests/v1');
    const again = router.match('GET', '/v2/x/manifests/v1');
    assert.deepEqual(again, first);
    assert.throws(() => {
      if (again.kind === 'hit') (again.params as Record<string, string>).name = 'y';
    }, TypeError);
    const third = router.match('GET', '/v2/x/manifests/v1');
    assert.equal(third.kind === 'hit' && third.params.name, 'x');
    // Same path, another method: its own outcome, not the cached GET's.
    const put = router.match('PUT', '/v2/x/manifests/v1');
    assert.equal(put.kind === 'hit' && put.route.name, 'manifest-put');
    assert.equal(router.match('POST', '/v2/x/manifests/v1').kind, 'method-not-allowed');
  });

  it('leaves out optional groups that did not match', () => {
    const m = router.match('GET', '/v2/a/tags/list');
    assert.deepEqual(m.kind === 'hit' && m.params, { name: 'a' });
  });

  it('tells a path miss from a method miss, merging Allow across routes', () => {
    assert.deepEqual(router.match('GET', '/v3/'), { kind: 'not-found' });
    assert.deepEqual(router.match('POST', '/v2/a/manifests/x'), { kind: 'method-not-allowed', allow: ['DELETE', 'GET', 'HEAD', 'PUT'] });
  });

  it('does not imply HEAD from GET', () => {
    assert.deepEqual(router.match('HEAD', '/v2/'), { kind: 'method-not-allowed', allow: ['GET'] });
  });

  it('keeps answering right after its cache of outcomes fills and is cleared', () => {
    for (let i = 0; i < 2100; i++) {
      const m = router.match(i % 2 ? 'GET' : 'PUT', `/v2/r${i}/manifests/t`);
      assert.equal(m.kind === 'hit' && m.params.name, `r${i}`);
    }
    assert.equal(router.match('GET', '/v2/r1/manifests/t').kind, 'hit');
    assert.equal(router.match('POST', '/v2/r1/manifests/t').kind, 'method-not-allowed');
  });

  it('refuses malformed routes at compile time', () => {
    assert.throws(() => compileRoutes([route('x', ['GET'], /\/v2\//)]), /anchored/);
    assert.throws(() => compileRoutes([route('x', ['GET'], /^\/v2\/$/g)]), /g or y flag/);
    assert.throws(() => compileRoutes([route('x', [], /^\/v2\/$/)]), /no methods/);
    assert.throws(() => compileRoutes([route('', ['GET'], /^\/v2\/$/)]), /name/);
  });
});

describe('http reply normalisation', () => {
  it('HEAD keeps the handler Content-Length and sends nothing', () => {
    const w = toWireReply('HEAD', { status: 200, headers: { 'Content-Length': 42, 'Docker-Content-Digest': 'sha256:x' } }, 'id1');
    assert.equal(w.contentLength, 42);
    assert.equal(w.body, undefined);
    assert.equal(w.isHead, true);
    assert.deepEqual(w.headers, [['Docker-Content-Digest', 'sha256:x'], ['X-Request-Id', 'id1']]);
  });

  it('derives Content-Length from the body and drops engine-owned headers', () => {
    const w = toWireReply('GET', { status: 201, headers: { 'Content-Length': 999, Connection: 'close', Link: ['<a>', '<b>'] }, body: 'héllo' }, 'id');
    assert.equal(w.statusLine, '201 Created');
    assert.equal(w.contentLength, Buffer.byteLength('héllo'));
    assert.deepEqual(w.headers, [['Link', '<a>'], ['Link', '<b>'], ['X-Request-Id', 'id']]);
  });

  it('sends no length for 204 and destroys an unsendable stream', () => {
    let destroyed = false;
    const stream = { async *[Symbol.asyncIterator]() {}, destroy: () => void (destroyed = true) };
    const w = toWireReply('GET', { status: 204, body: { stream, length: 3 } }, 'id');
    assert.equal(w.contentLength, undefined);
    assert.equal(w.discard?.stream, stream);
    w.discard?.stream.destroy?.();
    assert.equal(destroyed, true);
  });

  it('refuses header values that would split the response', () => {
    assert.throws(() => toWireReply('GET', { status: 200, headers: { Location: '/a\r\nSet-Cookie: x' } }, 'id'), /unsafe/);
    assert.throws(() => toWireReply('GET', { status: 200, headers: { Link: ['<a>', '<b>\n'] } }, 'id'), /unsafe/);
    assert.throws(() => toWireReply('GET', { status: 200, headers: { 'X-A\r\nB': 'v' } }, 'id'), /unsafe/);
  });

  it('writes numbers as text, skips undefined values and takes a length given as a list', () => {
    const headers = { 'Content-Length': ['7'], 'X-Count': 3, 'X-Gone': undefined } as unknown as Record<string, string>;
    const w = toWireReply('HEAD', { status: 200, headers }, 'id');
    assert.equal(w.contentLength, 7);
    assert.deepEqual(w.headers, [['X-Count', '3'], ['X-Request-Id', 'id']]);
  });
});

describe('request context', () => {
  const captured = { method: 'GET', path: '/v2/a/tags/list', rawQuery: 'n=2&tag=a&tag=b', headers: { host: 'x' }, remoteAddress: '127.0.0.1', secure: false };

  it('parses the query once, on first use, and reads the body through its source', async () => {
    let asked = 0;
    const source = {
      async *body() {
        asked++;
        yield Buffer.from('ab');
      },
      received: () => 2,
    };
    const ctx = createContext(captured, 'id-1', new LazyAbort(), source);
    assert.deepEqual(ctx.query.getAll('tag'), ['a', 'b']);
    assert.equal(ctx.query, ctx.query);
    const chunks: Buffer[] = [];
    for await (const c of ctx.body()) chunks.push(c);
    assert.equal(Buffer.concat(chunks).toString(), 'ab');
    assert.equal(asked, 1);
    assert.equal(ctx.bodyBytesReceived(), 2);
    assert.equal(ctx.peerCertificate, undefined);
    assert.equal(ctx.identity, undefined);
    ctx.identity = { name: 'alice', groups: ['dev'] };
    assert.equal(ctx.identity.name, 'alice');
  });

  it('gives a signal that reports the abort, asked for before or after it', () => {
    const early = new LazyAbort();
    const a = createContext(captured, 'id-2', early, { body: async function* () {}, received: () => 0 });
    const signal = a.signal;
    assert.equal(signal.aborted, false);
    early.abort(new Error('gone'));
    assert.equal(signal.aborted, true);
    const late = new LazyAbort();
    late.abort(new Error('gone'));
    assert.equal(createContext(captured, 'id-3', late, { body: async function* () {}, received: () => 0 }).signal.aborted, true);
  });
});

describe('client certificate subjectAltName', () => {
  it('splits entries and unquotes values with commas', () => {
    assert.deepEqual(parseSubjectAltName('DNS:a.example, DNS:b.example, email:x@y.z, URI:spiffe://t/w, IP Address:10.0.0.1, DNS:"c,d"'), {
      DNS: ['a.example', 'b.example', 'c,d'],
      email: ['x@y.z'],
      URI: ['spiffe://t/w'],
      'IP Address': ['10.0.0.1'],
    });
    assert.deepEqual(parseSubjectAltName(''), {});
  });
});
