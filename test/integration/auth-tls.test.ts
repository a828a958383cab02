/**
 * TLS on both engines with certificates made by openssl: serving over HTTPS, certificate
 * reload when the files change (new handshakes get the new certificate, an open
 * keep-alive connection carries on, a broken pair is refused and the old one stays), and
 * mTLS on node:https (the engine chosen when a CA is configured): the verified client
 * certificate is the identity.
 */
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { makeCerts, type Certs } from '../helpers/auth.ts';
import { engines, startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing } from '../helpers/tools.ts';

interface Answer {
  status: number;
  body: string;
  peerCN: string | undefined;
  socket: TLSSocket;
}

function get(port: number, path: string, opts: { ca: string; agent?: Agent; cert?: string; key?: string; headers?: Record<string, string> }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        ca: readFileSync(opts.ca),
        ...(opts.agent ? { agent: opts.agent } : { agent: false }),
        ...(opts.cert ? { cert: readFileSync(opts.cert), key: readFileSync(opts.key!) } : {}),
        headers: opts.headers ?? {},
      },
      (res) => {
        let body = '';
        // Read now: the socket is detached from the response once it ends.
        const socket = res.socket as TLSSocket;
        const peerCN = socket.getPeerCertificate()?.subject?.CN as string | undefined;
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peerCN, socket }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`not within 5 s: ${what}`);
}

for (const engine of await engines()) {
  describe(`TLS and certificate reload (${engine})`, { skip: missing('openssl') }, () => {
    let tmp: { dir: string; cleanup: () => Promise<void> };
    let first: Certs;
    let second: Certs;
    let reg: TestRegistry;
    let cert: string;
    let key: string;

    before(async () => {
      tmp = await tempDir('skiff-tls-');
      first = await makeCerts(join(tmp.dir, 'first'), [], { serverName: 'first' });
      // Same CA for the renewed certificate, as a renewal would be.
      second = await makeCerts(join(tmp.dir, 'second'), [], { serverName: 'second' });
      cert = join(tmp.dir, 'server.pem');
      key = join(tmp.dir, 'server.key');
      await copyFile(first.serverCert, cert);
      await copyFile(first.serverKey, key);
      reg = await startTestRegistry({ engine, config: { http: { address: '127.0.0.1', port: '0', tls: { cert, key } } } });
    });
    after(async () => {
      await reg?.stop();
      await tmp?.cleanup();
    });

    test('serves HTTPS; a renewed certificate is used for new connections, open ones carry on', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(first.ca) });
      const a = await get(reg.registry.port, '/v2/', { ca: first.ca, agent });
      assert.equal(a.status, 200);
      assert.equal(a.peerCN, 'first');
      // A broken pair (certificate of one key, another key): refused, the old one stays.
      await copyFile(second.serverCert, cert);
      await copyFile(first.serverKey, key);
      await new Promise((r) => setTimeout(r, 800));
      const still = await get(reg.registry.port, '/v2/', { ca: first.ca });
      assert.equal(still.peerCN, 'first', 'mismatched key: previous certificate kept');
      // The real renewal.
      await copyFile(second.serverKey, key);
      await eventually(async () => (await get(reg.registry.port, '/v2/', { ca: second.ca })).peerCN === 'second', 'new certificate served');
      // The keep-alive connection opened before the reload still works, on the same socket.
      const b = await get(reg.registry.port, '/v2/', { ca: first.ca, agent });
      assert.equal(b.status, 200);
      assert.equal(b.socket, a.socket, 'same connection');
      assert.equal(b.peerCN, 'first');
      agent.destroy();
    });
  });
}

describe('mTLS (node:https)', { skip: missing('openssl') }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let certs: Certs;
  let foreign: Certs;
  let reg: TestRegistry;

  before(async () => {
    tmp = await tempDir('skiff-mtls-');
    certs = await makeCerts(join(tmp.dir, 'pki'), ['ci-bot', 'viewer']);
    foreign = await makeCerts(join(tmp.dir, 'foreign'), ['ci-bot'], { caName: 'foreign' });
    reg = await startTestRegistry({
      config: {
        http: {
          address: '127.0.0.1',
          port: '0',
          tls: { cert: certs.serverCert, key: certs.serverKey, cacert: certs.ca },
          auth: { mtls: { identityAttributes: ['URI', 'CommonName'], uriSanPattern: '^spiffe://example\\.org/ns/ci/sa/(ci-.*)$' } },
          accessControl: { repositories: { '**': { policies: [{ users: ['ci-bot'], actions: ['read', 'create'] }, { users: ['viewer'], actions: ['read'] }] } } },
        },
      },
    });
  });
  after(async () => {
    await reg?.stop();
    await tmp?.cleanup();
  });

  test('the engine is node:https; the certificate identity is authorized by accessControl', async () => {
    assert.equal(reg.registry.server.engine, 'node');
    const port = reg.registry.port;
    const bot = certs.clients['ci-bot']!;
    const viewer = certs.clients.viewer!;
    assert.equal((await get(port, '/v2/', { ca: certs.ca, ...bot })).status, 200);
    const upload = (c: { cert: string; key: string }) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v2/mtls/app/blobs/uploads/', ca: readFileSync(certs.ca), cert: readFileSync(c.cert), key: readFileSync(c.key), agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await upload(bot), 202, 'ci-bot (from the SPIFFE URI) may create');
    assert.equal(await upload(viewer), 403, 'viewer (URI does not match the pattern: CommonName) may only read');
  });

  test('no client certificate, or one from another CA: the handshake fails', async () => {
    const port = reg.registry.port;
    await assert.rejects(get(port, '/v2/', { ca: certs.ca }));
    await assert.rejects(get(port, '/v2/', { ca: certs.ca, ...foreign.clients['ci-bot']! }));
  });
});
