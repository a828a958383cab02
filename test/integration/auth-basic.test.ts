/**
 * htpasswd authentication and zot's access-control semantics end to end: failDelay,
 * cached credentials and their invalidation on htpasswd reload, anonymous and default
 * policies, static groups, immutable tags, detectManifestCollision, the audit log and
 * rate limits.
 */
import assert from 'node:assert/strict';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basic, writeHtpasswd } from '../helpers/auth.ts';
import { Client } from '../helpers/client.ts';
import { blob, imageConfig, imageManifest } from '../helpers/content.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, run } from '../helpers/tools.ts';

const M = 'application/vnd.oci.image.manifest.v1+json';
const skip = missing('htpasswd');

/** Pushes a small image to repo:tag with `headers`; returns the manifest digest. */
async function pushImage(c: Client, repo: string, tag: string, headers: Record<string, string>, seed = 'x'): Promise<{ status: number; digest: string }> {
  const cfg = imageConfig();
  const layer = blob(`layer-${seed}`);
  const man = imageManifest(cfg, [layer]);
  for (const b of [cfg, layer]) {
    const r = await c.req('POST', `/v2/${repo}/blobs/uploads/?digest=${b.digest}`, { body: b.data, headers: { ...headers, 'Content-Type': 'application/octet-stream' } });
    await r.arrayBuffer();
    if (r.status !== 201) return { status: r.status, digest: man.digest };
  }
  const r = await c.req('PUT', `/v2/${repo}/manifests/${tag}`, { body: man.data, headers: { ...headers, 'Content-Type': M } });
  await r.arrayBuffer();
  return { status: r.status, digest: man.digest };
}

describe('htpasswd, failDelay and the credential cache', { skip }, () => {
  let reg: TestRegistry;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let htpasswd: string;
  let c: Client;

  before(async () => {
    tmp = await tempDir('skiff-basic-');
    htpasswd = join(tmp.dir, 'htpasswd');
    await writeHtpasswd(htpasswd, { alice: 'wonderland' }, 10);
    reg = await startTestRegistry({ config: { http: { address: '127.0.0.1', port: '0', realm: 'my realm', auth: { htpasswd: { path: htpasswd }, failDelay: 1 } } } });
    c = new Client(reg.url);
  });
  after(async () => {
    await reg?.stop();
    await tmp?.cleanup();
  });

  test('/v2/ challenges with the configured realm; htpasswd -B writes $2y$', async () => {
    const res = await c.req('GET', '/v2/');
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="my realm"');
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(await Client.codes(res), ['UNAUTHORIZED']);
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', 'wonderland') })).status, 200);
    const text = await readFile(htpasswd, 'utf8');
    assert.match(text, /^alice:\$2y\$10\$/);
  });

  test('a wrong password waits failDelay; a right one after the first is served from the cache', async () => {
    for (const h of [basic('alice', 'wrong'), basic('mallory', 'wonderland')]) {
      const t0 = performance.now();
      const res = await c.req('GET', '/v2/', { headers: h });
      const ms = performance.now() - t0;
      assert.equal(res.status, 401);
      assert.ok(ms >= 990, `failure answered after ${ms.toFixed(0)} ms, failDelay is 1 s`);
    }
    // Anonymous (no credentials) is not a failure: no delay.
    const t1 = performance.now();
    assert.equal((await c.req('GET', '/v2/')).status, 401);
    assert.ok(performance.now() - t1 < 500);
    // bcrypt cost 10 is paid once; then the cache answers.
    await c.req('GET', '/v2/', { headers: basic('alice', 'wonderland') });
    const t2 = performance.now();
    for (let i = 0; i < 20; i++) assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', 'wonderland') })).status, 200);
    const per = (performance.now() - t2) / 20;
    assert.ok(per < 15, `cached basic auth took ${per.toFixed(1)} ms per request`);
  });

  test('the htpasswd file is reloaded on change and the cache is dropped with it', async () => {
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', 'wonderland') })).status, 200);
    // htpasswd rewrites the file in place: a new password for alice, a new user bob.
    await run('htpasswd', ['-B', '-b', '-C', '5', htpasswd, 'alice', 'changed']);
    await run('htpasswd', ['-B', '-b', '-C', '5', htpasswd, 'bob', 'builder']);
    // Other tools write $2a$ and $2b$: the same bcrypt, re-spelled.
    const bobHash = (await readFile(htpasswd, 'utf8')).split('\n').find((l) => l.startsWith('bob:'))!.slice(4);
    await appendFile(htpasswd, `carol:${bobHash.replace('$2y$', '$2a$')}\ndave:${bobHash.replace('$2y$', '$2b$')}\nerin:$apr1$abc$notbcrypt\n`);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await c.req('GET', '/v2/', { headers: basic('bob', 'builder') })).status !== 200) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await c.req('GET', '/v2/', { headers: basic('bob', 'builder') })).status, 200);
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', 'changed') })).status, 200);
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', 'wonderland') })).status, 401, 'the cached old password no longer works');
    assert.equal((await c.req('GET', '/v2/', { headers: basic('carol', 'builder') })).status, 200, '$2a$');
    assert.equal((await c.req('GET', '/v2/', { headers: basic('dave', 'builder') })).status, 200, '$2b$');
  });
});

describe('access-control semantics', { skip }, () => {
  let reg: TestRegistry;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let c: Client;
  const U = { dev: 'd', ops: 'o', guest: 'g', admin: 'a', ci: 'c' };
  const as = (u: keyof typeof U) => basic(u, U[u]);

  before(async () => {
    tmp = await tempDir('skiff-acl-');
    const htpasswd = join(tmp.dir, 'htpasswd');
    await writeHtpasswd(htpasswd, U);
    reg = await startTestRegistry({
      config: {
        log: { level: 'error', audit: join(tmp.dir, 'audit.log') },
        http: {
          address: '127.0.0.1',
          port: '0',
          auth: { htpasswd: { path: htpasswd } },
          accessControl: {
            groups: { developers: { users: ['dev'] } },
            repositories: {
              '**': { anonymousPolicy: ['read'], defaultPolicy: ['read'] },
              'team/**': {
                policies: [
                  { groups: ['developers'], actions: ['read', 'create', 'update', 'delete'] },
                  { users: ['ci'], actions: ['read', 'create', 'delete', 'detectManifestCollision'] },
                ],
                defaultPolicy: [],
              },
              'private/**': { policies: [{ users: ['ops'], actions: ['read', 'create'] }] },
            },
            adminPolicy: { users: ['admin'], actions: ['read', 'create', 'update', 'delete'] },
          },
        },
      },
    });
    c = new Client(reg.url);
  });
  after(async () => {
    await reg?.stop();
    await tmp?.cleanup();
  });

  test('anonymousPolicy lets anonymous callers read where it says, and only there', async () => {
    assert.equal((await pushImage(c, 'pub/app', 'v1', as('admin'))).status, 201);
    assert.equal((await pushImage(c, 'private/app', 'v1', as('ops'))).status, 201);
    assert.equal((await c.req('GET', '/v2/')).status, 200, 'an anonymous policy exists: /v2/ is open (zot)');
    assert.equal((await c.req('GET', '/v2/pub/app/manifests/v1')).status, 200);
    const denied = await c.req('GET', '/v2/private/app/manifests/v1');
    assert.equal(denied.status, 401, 'anonymous and logging in could help: 401 with a challenge');
    assert.match(denied.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    const cat = (await (await c.req('GET', '/v2/_catalog')).json()) as { repositories: string[] };
    assert.ok(cat.repositories.includes('pub/app') && !cat.repositories.includes('private/app'));
    // Longest match wins: team/** has no defaultPolicy, so the ** fallback does not apply there.
    assert.equal((await pushImage(c, 'team/app', 'v1', as('dev'))).status, 201);
    assert.equal((await c.req('GET', '/v2/team/app/manifests/v1', { headers: as('guest') })).status, 403);
    assert.equal((await c.req('GET', '/v2/pub/app/manifests/v1', { headers: as('guest') })).status, 200, 'defaultPolicy on **');
  });

  test('static groups grant their policies; immutable tags (create without update), except latest', async () => {
    assert.equal((await pushImage(c, 'private/imm', 'v1', as('ops'), 'a')).status, 201);
    assert.equal((await pushImage(c, 'private/imm', 'v1', as('ops'), 'b')).status, 403, 'v1 exists: update needed');
    assert.equal((await pushImage(c, 'private/imm', 'latest', as('ops'), 'a')).status, 201);
    assert.equal((await pushImage(c, 'private/imm', 'latest', as('ops'), 'b')).status, 201, 'zot: latest is always a create');
    assert.equal((await pushImage(c, 'team/mut', 'v1', as('dev'), 'a')).status, 201);
    assert.equal((await pushImage(c, 'team/mut', 'v1', as('dev'), 'b')).status, 201, 'developers group has update');
  });

  test('detectManifestCollision: 409 for those who have it when several tags name the digest', async () => {
    const { digest } = await pushImage(c, 'team/col', 'one', as('ci'), 'col');
    assert.equal((await pushImage(c, 'team/col', 'two', as('ci'), 'col')).status, 201);
    const res = await c.req('DELETE', `/v2/team/col/manifests/${digest}`, { headers: as('ci') });
    assert.equal(res.status, 409);
    assert.deepEqual(await Client.codes(res), ['MANIFEST_INVALID']);
    // dev lacks detectManifestCollision: the same delete goes through.
    assert.equal((await c.req('DELETE', `/v2/team/col/manifests/${digest}`, { headers: as('dev') })).status, 202);
    // With a single tag, ci may delete by digest.
    const single = await pushImage(c, 'team/col2', 'only', as('ci'), 'col2');
    assert.equal((await c.req('DELETE', `/v2/team/col2/manifests/${single.digest}`, { headers: as('ci') })).status, 202);
  });

  test('the audit log names the identity of mutating requests and records failures, never passwords', async () => {
    await c.req('GET', '/v2/pub/app/tags/list', { headers: basic('dev', 'not-the-password') });
    await c.req('DELETE', '/v2/private/app/manifests/v1', { headers: as('guest') });
    await reg.stop();
    await new Promise((r) => setTimeout(r, 200));
    const lines = (await readFile(join(tmp.dir, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const put = lines.find((l) => l.method === 'PUT' && l.user === 'ops' && l.status === 201);
    assert.ok(put, 'a push by ops is audited with the user');
    const failed = lines.find((l) => l.msg === 'authentication failed' && l.user === 'dev');
    assert.ok(failed, 'the failed login is audited');
    assert.ok(lines.find((l) => l.msg === 'access denied' && l.user === 'guest' && l.action === 'delete'));
    const text = JSON.stringify(lines);
    for (const secret of ['not-the-password', ...Object.values(U).map((p) => `:${p}"`)]) assert.ok(!text.includes(secret), `audit log contains ${secret}`);
    assert.ok(!/authorization/i.test(text));
  });
});

describe('without accessControl, and accessControl without auth', { skip }, () => {
  test('auth only: every authenticated user may do everything, anonymous nothing', async () => {
    const tmp = await tempDir('skiff-noacl-');
    const htpasswd = join(tmp.dir, 'htpasswd');
    await writeHtpasswd(htpasswd, { u: 'p' });
    const reg = await startTestRegistry({ config: { http: { address: '127.0.0.1', port: '0', auth: { htpasswd: { path: htpasswd } } } } });
    try {
      const c = new Client(reg.url);
      const { status, digest } = await pushImage(c, 'any/repo', 'v1', basic('u', 'p'));
      assert.equal(status, 201);
      assert.equal((await pushImage(c, 'any/repo', 'v1', basic('u', 'p'), 'other')).status, 201);
      assert.equal((await c.req('GET', '/v2/any/repo/manifests/v1')).status, 401);
      assert.equal((await c.req('GET', '/v2/_catalog')).status, 401);
      // No accessControl: no collision detection either.
      assert.equal((await pushImage(c, 'any/repo', 'v2', basic('u', 'p'))).status, 201);
      assert.equal((await c.req('DELETE', `/v2/any/repo/manifests/${digest}`, { headers: basic('u', 'p') })).status, 202);
    } finally {
      await reg.stop();
      await tmp.cleanup();
    }
  });

  test('anonymous-only policy: reads allowed, writes 403 (no credentials could help)', async () => {
    const reg = await startTestRegistry({ config: { http: { address: '127.0.0.1', port: '0', accessControl: { repositories: { '**': { anonymousPolicy: ['read'] } } } } } });
    try {
      const c = new Client(reg.url);
      assert.equal((await c.req('GET', '/v2/')).status, 200);
      const res = await c.req('POST', '/v2/x/blobs/uploads/');
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('www-authenticate'), null);
      assert.deepEqual(await Client.codes(res), ['DENIED']);
      assert.equal((await c.req('GET', '/v2/x/tags/list')).status, 404, 'reads reach the handler');
    } finally {
      await reg.stop();
    }
  });
});

describe('rate limits', () => {
  test('http.ratelimit: per client, global and per method → 429 TOOMANYREQUESTS', async () => {
    const reg = await startTestRegistry({ config: { http: { address: '127.0.0.1', port: '0', ratelimit: { rate: 20, methods: [{ method: 'POST', rate: 2 }] } } } });
    try {
      const c = new Client(reg.url);
      let ok = 0;
      let limited = 0;
      // Sent together, so refill during the burst is negligible.
      const all = await Promise.all(Array.from({ length: 40 }, () => c.req('GET', '/v2/')));
      for (const res of all) {
        if (res.status === 200) ok++;
        else {
          assert.equal(res.status, 429);
          assert.deepEqual(await Client.codes(res), ['TOOMANYREQUESTS']);
          limited++;
        }
      }
      assert.ok(ok >= 20 && ok <= 25 && limited >= 15, `ok ${ok}, limited ${limited}`);
      await new Promise((r) => setTimeout(r, 1100));
      const posts = [];
      for (let i = 0; i < 5; i++) posts.push((await c.req('POST', '/v2/r/blobs/uploads/')).status);
      assert.deepEqual(posts.filter((s) => s === 202).length, 2, `POST statuses ${posts}`);
      assert.equal((await c.req('GET', '/livez')).status, 200, 'health probes are never limited');
    } finally {
      await reg.stop();
    }
  });
});
