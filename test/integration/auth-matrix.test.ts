/**
 * The security matrix: every route of the API, as anonymous, a read-only user, a pusher
 * without `update`/`delete`, and an admin, over both HTTP engines; plus the things a
 * hostile client tries (path tricks, other repositories' upload ids, probing for names).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basic, writeHtpasswd } from '../helpers/auth.ts';
import { Client } from '../helpers/client.ts';
import { blob, imageConfig, imageManifest } from '../helpers/content.ts';
import { engines, startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing } from '../helpers/tools.ts';

const USERS = { reader: 'r-pass', pusher: 'p-pass', admin: 'a-pass', ascoped: 's-pass' };
type Who = 'anon' | 'reader' | 'pusher' | 'admin';
const WHO: Who[] = ['anon', 'reader', 'pusher', 'admin'];

function creds(who: Who | 'ascoped'): Record<string, string> {
  return who === 'anon' ? {} : basic(who, USERS[who]);
}

for (const engine of await engines()) {
  describe(`security matrix (${engine})`, { skip: missing('htpasswd'), concurrency: false }, () => {
    let reg: TestRegistry;
    let tmp: { dir: string; cleanup: () => Promise<void> };
    let c: Client;
    const cfg = imageConfig();
    const layer = blob(2048);
    const man = imageManifest(cfg, [layer]);

    const as = (who: Who | 'ascoped', method: string, path: string, init: { body?: Buffer | string; headers?: Record<string, string> } = {}) =>
      c.req(method, path, { ...init, headers: { ...creds(who), ...(init.headers ?? {}) } });

    before(async () => {
      tmp = await tempDir('skiff-authz-');
      const htpasswd = join(tmp.dir, 'htpasswd');
      await writeHtpasswd(htpasswd, USERS);
      reg = await startTestRegistry({
        engine,
        config: {
          http: {
            address: '127.0.0.1',
            port: '0',
            realm: 'skiff-test',
            auth: { htpasswd: { path: htpasswd }, apikey: true },
            accessControl: {
              repositories: {
                '**': {
                  policies: [
                    { users: ['reader'], actions: ['read'] },
                    { users: ['pusher'], actions: ['read', 'create'] },
                  ],
                },
                'a/**': { policies: [{ users: ['ascoped'], actions: ['read', 'create'] }] },
              },
              adminPolicy: { users: ['admin'], actions: ['read', 'create', 'update', 'delete'] },
            },
          },
        },
      });
      c = new Client(reg.url);
      // Seed m/app:v1 and a few repositories as admin.
      for (const repo of ['m/app', 'a/x', 'b/y']) {
        for (const b of [cfg, layer]) assert.equal((await as('admin', 'POST', `/v2/${repo}/blobs/uploads/?digest=${b.digest}`, { body: b.data, headers: { 'Content-Type': 'application/octet-stream' } })).status, 201);
        assert.equal((await as('admin', 'PUT', `/v2/${repo}/manifests/v1`, { body: man.data, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } })).status, 201);
      }
    });

    after(async () => {
      await reg?.stop();
      await tmp?.cleanup();
    });

    /** Asserts the status of one request per identity, in WHO order. */
    async function row(label: string, expected: number[], send: (who: Who) => Promise<Response>) {
      const got: number[] = [];
      for (const who of WHO) {
        const res = await send(who);
        await res.arrayBuffer();
        got.push(res.status);
        if (res.status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="skiff-test"$/, `${label} as ${who}: challenge`);
      }
      assert.deepEqual(got, expected, `${label}: [anon, reader, pusher, admin]`);
    }

    const M = 'application/vnd.oci.image.manifest.v1+json';
    const pushBlob = (who: Who, repo: string, b: { data: Buffer; digest: string }) =>
      as(who, 'POST', `/v2/${repo}/blobs/uploads/?digest=${b.digest}`, { body: b.data, headers: { 'Content-Type': 'application/octet-stream' } });

    test('base, catalog, discover, tags, referrers', async () => {
      await row('GET /v2/', [401, 200, 200, 200], (w) => as(w, 'GET', '/v2/'));
      await row('GET /v2/_catalog', [401, 200, 200, 200], (w) => as(w, 'GET', '/v2/_catalog'));
      await row('GET discover', [401, 200, 200, 200], (w) => as(w, 'GET', '/v2/_oci/ext/discover'));
      await row('GET tags', [401, 200, 200, 200], (w) => as(w, 'GET', '/v2/m/app/tags/list'));
      await row('GET referrers', [401, 200, 200, 200], (w) => as(w, 'GET', `/v2/m/app/referrers/${man.digest}`));
      await row('GET /livez', [200, 200, 200, 200], (w) => as(w, 'GET', '/livez'));
    });

    test('manifests: GET, HEAD, PUT new tag, PUT existing tag, DELETE', async () => {
      await row('GET manifest', [401, 200, 200, 200], (w) => as(w, 'GET', '/v2/m/app/manifests/v1'));
      await row('HEAD manifest', [401, 200, 200, 200], (w) => as(w, 'HEAD', `/v2/m/app/manifests/${man.digest}`));
      await row('PUT new tag', [401, 403, 201, 201], (w) => as(w, 'PUT', `/v2/m/app/manifests/new-${w}`, { body: man.data, headers: { 'Content-Type': M } }));
      await row('PUT existing tag (update)', [401, 403, 403, 201], (w) => as(w, 'PUT', '/v2/m/app/manifests/v1', { body: man.data, headers: { 'Content-Type': M } }));
      await row('DELETE tag', [401, 403, 403, 202], (w) => as(w, 'DELETE', `/v2/m/app/manifests/new-${w === 'anon' || w === 'reader' ? 'admin' : w === 'pusher' ? 'pusher' : 'admin'}`));
    });

    test('blobs: GET, HEAD, DELETE', async () => {
      await row('GET blob', [401, 200, 200, 200], (w) => as(w, 'GET', `/v2/m/app/blobs/${layer.digest}`));
      await row('HEAD blob', [401, 200, 200, 200], (w) => as(w, 'HEAD', `/v2/m/app/blobs/${layer.digest}`));
      const loose = blob(100);
      assert.equal((await pushBlob('admin', 'm/app', loose)).status, 201);
      await row('DELETE blob', [401, 403, 403, 202], (w) => as(w, 'DELETE', `/v2/m/app/blobs/${loose.digest}`));
    });

    test('uploads: POST, GET, PATCH, PUT, DELETE, mount', async () => {
      const sessions: Partial<Record<Who, string>> = {};
      await row('POST upload', [401, 403, 202, 202], async (w) => {
        const res = await as(w, 'POST', '/v2/m/up/blobs/uploads/');
        if (res.status === 202) sessions[w] = res.headers.get('location')!;
        return res;
      });
      const own = (w: Who) => sessions[w] ?? sessions.pusher!;
      await row('GET upload', [401, 204, 204, 204], (w) => as(w, 'GET', own(w)));
      const chunk = blob(64);
      await row('PATCH upload', [401, 403, 202, 202], (w) =>
        as(w, 'PATCH', own(w), { body: chunk.data, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-63' } }),
      );
      await row('PUT upload', [401, 403, 201, 201], (w) => as(w, 'PUT', `${own(w)}?digest=${chunk.digest}`));
      const fresh: Partial<Record<Who, string>> = {};
      for (const w of ['pusher', 'admin'] as const) fresh[w] = (await as(w, 'POST', '/v2/m/up/blobs/uploads/')).headers.get('location')!;
      await row('DELETE upload', [401, 403, 403, 204], (w) => as(w, 'DELETE', fresh[w as 'pusher' | 'admin'] ?? fresh.pusher!));
      await row('mount', [401, 403, 201, 201], (w) => as(w, 'POST', `/v2/m/mounted-${w}/blobs/uploads/?mount=${layer.digest}&from=m/app`));
    });

    test('/zot/auth/apikey: anonymous 401, every user manages their own keys', async () => {
      await row('GET apikey', [401, 200, 200, 200], (w) => as(w, 'GET', '/zot/auth/apikey'));
    });

    test('a denied name answers the same whether the repository exists or not', async () => {
      const existing = await as('ascoped', 'GET', '/v2/m/app/manifests/v1');
      const missingRepo = await as('ascoped', 'GET', '/v2/zz/none/manifests/v1');
      assert.equal(existing.status, 403);
      assert.equal(missingRepo.status, 403);
      const strip = (t: string) => t.replace(/"name":"[^"]*"/, '');
      assert.equal(strip(await existing.text()), strip(await missingRepo.text()));
      assert.deepEqual(await Client.codes(await as('ascoped', 'GET', '/v2/m/app/tags/list')), ['DENIED']);
      // The catalog lists only what the caller may read.
      const cat = (await (await as('ascoped', 'GET', '/v2/_catalog')).json()) as { repositories: string[] };
      assert.deepEqual(cat.repositories, ['a/x']);
      const all = (await (await as('reader', 'GET', '/v2/_catalog')).json()) as { repositories: string[] };
      assert.ok(all.repositories.includes('m/app') && all.repositories.includes('b/y'));
      // Pagination still counts visible entries only.
      const page = await as('reader', 'GET', '/v2/_catalog?n=1');
      assert.equal(((await page.json()) as { repositories: string[] }).repositories.length, 1);
      assert.match(page.headers.get('link') ?? '', /rel="next"/);
    });

    test('a user limited to a/** cannot reach b through dot segments or encodings', async () => {
      const auth = `Basic ${Buffer.from('ascoped:s-pass').toString('base64')}`;
      const raw = (path: string) => rawWithAuth(reg.url, path, auth);
      assert.equal((await raw('/v2/a/x/manifests/v1')).status, 200);
      for (const path of ['/v2/a/../b/y/manifests/v1', '/v2/a/%2e%2e/b/y/manifests/v1', '/v2/a%2F..%2Fb%2Fy/manifests/v1', '/v2/a/x/../../b/y/tags/list', '/v2/a/./x/../../b/y/manifests/v1', '/v2/a/%2E%2E%2Fb/y/blobs/' + layer.digest]) {
        const r = await raw(path);
        assert.ok(r.status === 400 || r.status === 404 || r.status === 403, `${path} → ${r.status} ${r.body}`);
        assert.doesNotMatch(r.body, /schemaVersion/, `${path} leaked the manifest`);
      }
      // An upload id from a/x used under b/y: denied before the id is even looked at.
      const loc = (await as('ascoped', 'POST', '/v2/a/x/blobs/uploads/')).headers.get('location')!;
      const id = loc.split('/').pop()!;
      assert.equal((await as('ascoped', 'PATCH', `/v2/b/y/blobs/uploads/${id}`, { body: 'xx' })).status, 403);
      assert.equal((await as('ascoped', 'PUT', `/v2/b/y/blobs/uploads/${id}?digest=${layer.digest}`)).status, 403);
      // A user allowed in both repositories still cannot use one repository's upload id in another.
      const ploc = (await as('pusher', 'POST', '/v2/m/one/blobs/uploads/')).headers.get('location')!;
      const pid = ploc.split('/').pop()!;
      const cross = await as('pusher', 'PATCH', `/v2/m/two/blobs/uploads/${pid}`, { body: 'xx', headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(cross.status, 404);
      assert.deepEqual(await Client.codes(cross), ['BLOB_UPLOAD_UNKNOWN']);
      // Mounting from a repository the caller cannot read gives a fresh session, not the blob.
      const m = await as('ascoped', 'POST', `/v2/a/mounted/blobs/uploads/?mount=${layer.digest}&from=b/y`);
      assert.equal(m.status, 202);
    });

    test('wrong passwords, unknown users and malformed headers are 401', async () => {
      for (const h of [basic('reader', 'nope'), basic('nobody', 'x'), { Authorization: 'Basic !!!' }, { Authorization: 'Digest x' }, { Authorization: `${basic('reader', USERS.reader).Authorization}, Basic eA==` }]) {
        const res = await c.req('GET', '/v2/m/app/tags/list', { headers: h });
        assert.equal(res.status, 401, JSON.stringify(h));
        assert.deepEqual(await Client.codes(res), ['UNAUTHORIZED']);
      }
    });
  });
}

/** A GET whose path goes out byte for byte, with an Authorization header. */
async function rawWithAuth(url: string, path: string, auth: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(url + '/', { method: 'GET', path, headers: { Authorization: auth } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
