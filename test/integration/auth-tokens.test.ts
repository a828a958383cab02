/**
 * Bearer tokens (Docker token flow, JWT verification with the cert's public key) and API
 * keys (`zak_...`, issued by /zot/auth/apikey, stored hashed, sent as the Basic password).
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { basic, writeHtpasswd } from '../helpers/auth.ts';
import { Client } from '../helpers/client.ts';
import { imageConfig, imageManifest } from '../helpers/content.ts';
import { engines, startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, run } from '../helpers/tools.ts';

const M = 'application/vnd.oci.image.manifest.v1+json';
const REALM = 'https://auth.example.test/token';
const SERVICE = 'skiff.example.test';

interface Access {
  type: string;
  name: string;
  actions: string[];
}

function token(key: KeyObject, alg: string, access: Access[], claims: Record<string, unknown> = {}, opts: { exp?: number; nbf?: number; aud?: string; iss?: string | null } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ access, ...claims })
    .setProtectedHeader({ alg })
    .setSubject('robot')
    .setAudience(opts.aud ?? SERVICE)
    .setIssuedAt(now)
    .setNotBefore(opts.nbf ?? now - 1)
    .setExpirationTime(opts.exp ?? now + 300);
  if (opts.iss !== null) jwt = jwt.setIssuer(opts.iss ?? 'test-token-service');
  return jwt.sign(key);
}

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

for (const engine of await engines()) {
  describe(`bearer tokens (${engine})`, { skip: missing('openssl') }, () => {
    let reg: TestRegistry;
    let tmp: { dir: string; cleanup: () => Promise<void> };
    let c: Client;
    let rsa: KeyObject;
    const pull = (name: string) => [{ type: 'repository', name, actions: ['pull'] }];

    before(async () => {
      tmp = await tempDir('skiff-bearer-');
      // An RSA key and a self-signed certificate for it, as a token service would publish.
      await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tmp.dir, 'ts.key'), '-out', join(tmp.dir, 'ts.pem'), '-days', '1', '-subj', '/CN=token-service']);
      const { createPrivateKey } = await import('node:crypto');
      rsa = createPrivateKey(await readFile(join(tmp.dir, 'ts.key')));
      reg = await startTestRegistry({ engine, config: { http: { address: '127.0.0.1', port: '0', auth: { bearer: { realm: REALM, service: SERVICE, cert: join(tmp.dir, 'ts.pem') } } } } });
      c = new Client(reg.url);
      // Seed a/b:v1 with a push token.
      const push = await token(rsa, 'RS256', [{ type: 'repository', name: 'a/b', actions: ['pull', 'push'] }]);
      const cfg = imageConfig();
      const man = imageManifest(cfg, []);
      assert.equal((await c.req('POST', `/v2/a/b/blobs/uploads/?digest=${cfg.digest}`, { body: cfg.data, headers: { ...bearer(push), 'Content-Type': 'application/octet-stream' } })).status, 201);
      assert.equal((await c.req('PUT', '/v2/a/b/manifests/v1', { body: man.data, headers: { ...bearer(push), 'Content-Type': M } })).status, 201);
      const all = bearer(await token(rsa, 'RS256', [{ type: 'repository', name: 'c/d', actions: ['*'] }]));
      assert.equal((await c.req('POST', `/v2/c/d/blobs/uploads/?digest=${cfg.digest}`, { body: cfg.data, headers: { ...all, 'Content-Type': 'application/octet-stream' } })).status, 201);
      assert.equal((await c.req('PUT', '/v2/c/d/manifests/v1', { body: man.data, headers: { ...all, 'Content-Type': M } })).status, 201);
    });
    after(async () => {
      await reg?.stop();
      await tmp?.cleanup();
    });

    test('challenges carry realm, service and the scope the request needs', async () => {
      const base = await c.req('GET', '/v2/');
      assert.equal(base.status, 401);
      assert.equal(base.headers.get('www-authenticate'), `Bearer realm="${REALM}",service="${SERVICE}"`);
      const get = await c.req('GET', '/v2/a/b/manifests/v1');
      assert.equal(get.headers.get('www-authenticate'), `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:a/b:pull"`);
      const put = await c.req('PUT', '/v2/a/b/manifests/v2', { body: '{}' });
      assert.equal(put.headers.get('www-authenticate'), `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:a/b:pull,push"`);
    });

    test('the access claim decides: pull reads, push writes, other names are refused', async () => {
      const t = await token(rsa, 'RS256', pull('a/b'));
      assert.equal((await c.req('GET', '/v2/', { headers: bearer(t) })).status, 200);
      assert.equal((await c.req('GET', '/v2/a/b/manifests/v1', { headers: bearer(t) })).status, 200);
      const push = await c.req('POST', '/v2/a/b/blobs/uploads/', { headers: bearer(t) });
      assert.equal(push.status, 401);
      assert.match(push.headers.get('www-authenticate') ?? '', /scope="repository:a\/b:pull,push",error="insufficient_scope"$/);
      assert.equal((await c.req('GET', '/v2/c/d/manifests/v1', { headers: bearer(t) })).status, 401);
      assert.equal((await c.req('DELETE', '/v2/a/b/manifests/v1', { headers: bearer(await token(rsa, 'RS256', [{ type: 'repository', name: 'a/b', actions: ['pull', 'push'] }])) })).status, 401, 'delete needs the delete action');
      // Catalog: only pullable names, or everything with registry:catalog:*.
      const only = (await (await c.req('GET', '/v2/_catalog', { headers: bearer(t) })).json()) as { repositories: string[] };
      assert.deepEqual(only.repositories, ['a/b']);
      const everything = await token(rsa, 'RS256', [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
      assert.deepEqual(((await (await c.req('GET', '/v2/_catalog', { headers: bearer(everything) })).json()) as { repositories: string[] }).repositories, ['a/b', 'c/d']);
    });

    test('expired, not-yet-valid, wrong-audience, issuer-less, tampered and foreign tokens are refused', async () => {
      const now = Math.floor(Date.now() / 1000);
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const good = await token(rsa, 'RS256', pull('a/b'));
      const [h, p, s] = good.split('.');
      const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { access: Access[] };
      payload.access = [{ type: 'repository', name: 'c/d', actions: ['pull', 'push', 'delete'] }];
      const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
      const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${p}.`;
      const bad: Record<string, string> = {
        expired: await token(rsa, 'RS256', pull('a/b'), {}, { exp: now - 60, nbf: now - 120 }),
        'not yet valid': await token(rsa, 'RS256', pull('a/b'), {}, { nbf: now + 120 }),
        'wrong audience': await token(rsa, 'RS256', pull('a/b'), {}, { aud: 'another-registry' }),
        'no issuer': await token(rsa, 'RS256', pull('a/b'), {}, { iss: null }),
        tampered,
        'alg none': none,
        'signed by another key': await token(other, 'RS256', pull('a/b')),
        garbage: 'not.a.jwt',
      };
      for (const [what, t] of Object.entries(bad)) {
        const res = await c.req('GET', '/v2/a/b/manifests/v1', { headers: bearer(t) });
        assert.equal(res.status, 401, what);
        assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/, what);
      }
      assert.equal((await c.req('GET', '/v2/a/b/manifests/v1', { headers: bearer(good) })).status, 200);
    });
  });
}

describe('bearer tokens signed with ES256, key given as a bare public key', () => {
  test('ES256 verifies; an RS256 token is refused for an EC key', async () => {
    const tmp = await tempDir('skiff-es256-');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(join(tmp.dir, 'pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const reg = await startTestRegistry({ config: { http: { address: '127.0.0.1', port: '0', auth: { bearer: { realm: REALM, service: SERVICE, cert: join(tmp.dir, 'pub.pem') } } } } });
    try {
      const c = new Client(reg.url);
      const t = await token(privateKey, 'ES256', [{ type: 'repository', name: 'x', actions: ['pull'] }]);
      assert.equal((await c.req('GET', '/v2/x/tags/list', { headers: bearer(t) })).status, 404, 'authorized; the repository just does not exist');
      const rs = await token(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256', [{ type: 'repository', name: 'x', actions: ['pull'] }]);
      assert.equal((await c.req('GET', '/v2/x/tags/list', { headers: bearer(rs) })).status, 401);
    } finally {
      await reg.stop();
      await tmp.cleanup();
    }
  });
});

describe('API keys', { skip: missing('htpasswd') }, () => {
  let reg: TestRegistry;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  let htpasswd: string;
  let c: Client;
  const start = async () => {
    reg = await startTestRegistry({
      root,
      config: {
        http: {
          address: '127.0.0.1',
          port: '0',
          auth: { htpasswd: { path: htpasswd }, apikey: true },
          accessControl: { repositories: { '**': { defaultPolicy: ['read', 'create'] } } },
        },
      },
    });
    c = new Client(reg.url);
  };

  before(async () => {
    tmp = await tempDir('skiff-apikey-');
    root = join(tmp.dir, 'root');
    htpasswd = join(tmp.dir, 'htpasswd');
    await writeHtpasswd(htpasswd, { alice: 'alice-pw', bob: 'bob-pw' });
    await start();
  });
  after(async () => {
    await reg?.stop();
    await tmp?.cleanup();
  });

  const create = (body: unknown, headers = basic('alice', 'alice-pw')) =>
    c.req('POST', '/zot/auth/apikey', { body: JSON.stringify(body), headers: { ...headers, 'Content-Type': 'application/json' } });

  test('issue, use, list, revoke; the key is shown once and stored only as a hash', async () => {
    const res = await create({ label: 'ci', scopes: [], expirationDate: '' });
    assert.equal(res.status, 201);
    const made = (await res.json()) as { apiKey: string; uuid: string; label: string; isExpired: boolean };
    assert.match(made.apiKey, /^zak_[0-9a-f]{32}$/);
    assert.equal(made.label, 'ci');
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', made.apiKey) })).status, 200);
    assert.equal((await c.req('GET', '/v2/', { headers: basic('bob', made.apiKey) })).status, 401, 'a key works only with its owner\'s name');
    const listed = (await (await c.req('GET', '/zot/auth/apikey', { headers: basic('alice', 'alice-pw') })).json()) as { apiKeys: Record<string, unknown>[] };
    assert.equal(listed.apiKeys.length, 1);
    assert.equal(listed.apiKeys[0]!.uuid, made.uuid);
    assert.ok(!JSON.stringify(listed).includes(made.apiKey) && !('hash' in listed.apiKeys[0]!));
    const bobs = (await (await c.req('GET', '/zot/auth/apikey', { headers: basic('bob', 'bob-pw') })).json()) as { apiKeys: unknown[] };
    assert.deepEqual(bobs.apiKeys, [], 'users see only their own keys');
    // On disk: the SHA-256, never the key.
    const stateFiles = await readdir(join(root, '_skiff'));
    assert.ok(stateFiles.includes('apikeys.json'));
    const disk = await readFile(join(root, '_skiff', 'apikeys.json'), 'utf8');
    assert.ok(!disk.includes(made.apiKey) && !disk.includes(made.apiKey.slice(4)));
    assert.ok(disk.includes(createHashHex(made.apiKey)));
    // Keys survive a restart.
    await reg.stop();
    await start();
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', made.apiKey) })).status, 200);
    // Bob cannot revoke Alice's key; Alice can.
    assert.equal((await c.req('DELETE', `/zot/auth/apikey?id=${made.uuid}`, { headers: basic('bob', 'bob-pw') })).status, 404);
    assert.equal((await c.req('DELETE', `/zot/auth/apikey?id=${made.uuid}`, { headers: basic('alice', 'alice-pw') })).status, 200);
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', made.apiKey) })).status, 401);
  });

  test('bad requests: past expiry, malformed body, anonymous, a key minting keys', async () => {
    assert.equal((await create({ label: 'x', expirationDate: '2001-01-01T00:00:00Z' })).status, 400);
    assert.equal((await create({ label: 'x', expirationDate: 'tomorrow' })).status, 400);
    assert.equal((await create({ label: 'x', scopes: 'a' })).status, 400);
    assert.equal((await c.req('POST', '/zot/auth/apikey', { body: 'nope' , headers: basic('alice', 'alice-pw') })).status, 400);
    assert.equal((await c.req('POST', '/zot/auth/apikey', { body: '{}' })).status, 401);
    assert.equal((await c.req('DELETE', '/zot/auth/apikey', { headers: basic('alice', 'alice-pw') })).status, 400);
    const key = ((await (await create({ label: 'k' })).json()) as { apiKey: string }).apiKey;
    assert.equal((await create({ label: 'child' }, basic('alice', key))).status, 403);
  });

  test('expiry and scopes are enforced', async () => {
    const soon = new Date(Date.now() + 1500).toISOString();
    const short = ((await (await create({ label: 'short', expirationDate: soon })).json()) as { apiKey: string }).apiKey;
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', short) })).status, 200);
    await new Promise((r) => setTimeout(r, 1700));
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', short) })).status, 401, 'expired key');
    const listed = (await (await c.req('GET', '/zot/auth/apikey', { headers: basic('alice', 'alice-pw') })).json()) as { apiKeys: { label: string; isExpired: boolean }[] };
    assert.equal(listed.apiKeys.find((k) => k.label === 'short')?.isExpired, true);

    const scoped = ((await (await create({ label: 'scoped', scopes: ['team/**'] })).json()) as { apiKey: string }).apiKey;
    const cfg = imageConfig();
    const push = (repo: string) => c.req('POST', `/v2/${repo}/blobs/uploads/?digest=${cfg.digest}`, { body: cfg.data, headers: { ...basic('alice', scoped), 'Content-Type': 'application/octet-stream' } });
    assert.equal((await push('team/app')).status, 201);
    assert.equal((await push('other/app')).status, 403);
  });
});

function createHashHex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
