import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:net';
import { Client } from '../helpers/client.ts';
import { blob, imageConfig, imageIndex, imageManifest, sha256 } from '../helpers/content.ts';
import { engines, startTestRegistry, type TestRegistry } from '../helpers/registry.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

for (const engine of await engines()) {
  describe(`distribution API over ${engine}`, () => {
    let reg: TestRegistry;
    let c: Client;
    before(async () => {
      reg = await startTestRegistry({ engine });
      c = new Client(reg.url);
    });
    after(() => reg.stop());

    test('GET /v2/ answers 200 with the API version header', async () => {
      const r = await c.req('GET', '/v2/');
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.deepEqual(await r.json(), {});
    });

    test('concurrent pulls of one blob (shared chunk reads) each get every byte, beside a stalled puller', async () => {
      const big = blob(3 * 1024 * 1024 + 4321);
      assert.equal((await c.pushBlob('fan/out', big)).status, 201);
      // A client that reads the first bytes and then stops: it must not hold up the others.
      const u = new URL(reg.url);
      const stalled = connect(Number(u.port), u.hostname);
      stalled.on('error', () => undefined);
      stalled.write(`GET /v2/fan/out/blobs/${big.digest} HTTP/1.1\r\nHost: x\r\n\r\n`);
      stalled.once('data', () => stalled.pause());
      try {
        const bodies = await Promise.all(
          Array.from({ length: 12 }, async () => {
            const r = await c.req('GET', `/v2/fan/out/blobs/${big.digest}`);
            assert.equal(r.status, 200);
            return Buffer.from(await r.arrayBuffer());
          }),
        );
        for (const b of bodies) assert.equal(sha256(b), big.digest);
        // A range of the same blob is not confused with the shared whole-blob chunks.
        const r = await c.req('GET', `/v2/fan/out/blobs/${big.digest}`, { headers: { Range: 'bytes=1000-300999' } });
        assert.equal(r.status, 206);
        assert.deepEqual(Buffer.from(await r.arrayBuffer()), big.data.subarray(1000, 301000));
      } finally {
        stalled.destroy();
      }
    });

    test('monolithic, POST+PUT, chunked and streamed uploads; blob GET, HEAD and ranges', async () => {
      const a = blob(100_000);
      let r = await c.pushBlob('up/load', a);
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('docker-content-digest'), a.digest);
      assert.equal(r.headers.get('location'), `/v2/up/load/blobs/${a.digest}`);

      const b = blob(300_000);
      r = await c.req('POST', '/v2/up/load/blobs/uploads/');
      assert.equal(r.status, 202);
      let loc = r.headers.get('location')!;
      assert.match(loc, /^\/v2\/up\/load\/blobs\/uploads\/[0-9a-f-]{36}$/);
      r = await c.req('PATCH', loc, { body: b.data.subarray(0, 100_000), headers: { 'Content-Range': '0-99999', 'Content-Type': 'application/octet-stream' } });
      assert.equal(r.status, 202);
      assert.equal(r.headers.get('range'), '0-99999');
      loc = r.headers.get('location')!;
      r = await c.req('PATCH', loc, { body: b.data.subarray(50_000, 150_000), headers: { 'Content-Range': '50000-149999' } });
      assert.equal(r.status, 416, 'overlapping chunk');
      assert.equal(r.headers.get('range'), '0-99999');
      r = await c.req('PATCH', loc, { body: b.data.subarray(100_000, 200_000) });
      assert.equal(r.status, 202, 'streamed chunk without Content-Range');
      r = await c.req('GET', loc);
      assert.equal(r.status, 204);
      assert.equal(r.headers.get('range'), '0-199999');
      r = await c.req('PUT', `${loc}?digest=${b.digest}`, { body: b.data.subarray(200_000), headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(r.status, 201);

      r = await c.req('HEAD', `/v2/up/load/blobs/${b.digest}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-length'), '300000');
      r = await c.req('GET', `/v2/up/load/blobs/${b.digest}`);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), b.data);
      r = await c.req('GET', `/v2/up/load/blobs/${b.digest}`, { headers: { Range: 'bytes=1000-1999' } });
      assert.equal(r.status, 206);
      assert.equal(r.headers.get('content-range'), 'bytes 1000-1999/300000');
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), b.data.subarray(1000, 2000));
      r = await c.req('GET', `/v2/up/load/blobs/${b.digest}`, { headers: { Range: 'bytes=400000-' } });
      assert.equal(r.status, 416);
      assert.equal(r.headers.get('content-range'), 'bytes */300000');
      assert.deepEqual(await Client.codes(r), ['RANGE_INVALID']);
    });

    test('manifests: push by tag and digest, multi-tag, GET/HEAD headers, tags pagination, catalog', async () => {
      const cfg = imageConfig();
      const layer = blob(2048);
      for (const b of [cfg, layer]) assert.equal((await c.pushBlob('app/web', b)).status, 201);
      const m = imageManifest(cfg, [layer]);
      let r = await c.pushManifest('app/web', 'v1', m);
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('docker-content-digest'), m.digest);
      assert.equal(r.headers.get('location'), `/v2/app/web/manifests/${m.digest}`);
      r = await c.req('PUT', `/v2/app/web/manifests/${m.digest}?tag=v2&tag=v3&tag=latest`, { body: m.data, headers: { 'Content-Type': OCI_MANIFEST } });
      assert.equal(r.status, 201);
      for (const ref of ['v1', 'v2', 'latest', m.digest]) {
        r = await c.req('GET', `/v2/app/web/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
        assert.equal(r.status, 200, ref);
        assert.equal(r.headers.get('content-type'), OCI_MANIFEST);
        assert.equal(r.headers.get('docker-content-digest'), m.digest);
        assert.deepEqual(Buffer.from(await r.arrayBuffer()), m.data);
      }
      r = await c.req('HEAD', '/v2/app/web/manifests/v3');
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-length'), String(m.data.length));
      r = await c.req('GET', '/v2/app/web/tags/list?n=2');
      assert.deepEqual(await r.json(), { name: 'app/web', tags: ['latest', 'v1'] });
      assert.equal(r.headers.get('link'), '</v2/app/web/tags/list?n=2&last=v1>; rel="next"');
      r = await c.req('GET', '/v2/app/web/tags/list?n=2&last=v1');
      assert.deepEqual(await r.json(), { name: 'app/web', tags: ['v2', 'v3'] });
      await c.pushBlob('app/zz', cfg);
      await c.pushManifest('app/zz', 'v1', imageManifest(cfg, []));
      r = await c.req('GET', '/v2/_catalog?n=1&last=app/web');
      assert.deepEqual(await r.json(), { repositories: ['app/zz'] });
      r = await c.req('GET', '/v2/_catalog?n=1');
      const cat = (await r.json()) as { repositories: string[] };
      assert.deepEqual(cat.repositories, ['app/web']);
      assert.equal(r.headers.get('link'), '</v2/_catalog?n=1&last=app%2Fweb>; rel="next"');
      r = await c.req('GET', '/v2/_catalog');
      assert.ok(((await r.json()) as { repositories: string[] }).repositories.includes('up/load'), 'a repository exists from its first write, as in zot');
      const index = JSON.parse(await readFile(join(reg.root, 'app/web/index.json'), 'utf8'));
      assert.deepEqual(index.manifests.map((d: { annotations?: Record<string, string> }) => d.annotations?.['org.opencontainers.image.ref.name']).sort(), ['latest', 'v1', 'v2', 'v3']);
    });

    test('referrers: OCI-Subject on push, listing, artifactType filter, empty for unknown subject', async () => {
      const cfg = imageConfig();
      const layer = blob(100);
      for (const b of [cfg, layer]) await c.pushBlob('ref/r', b);
      const m = imageManifest(cfg, [layer]);
      await c.pushManifest('ref/r', 'v1', m);
      const empty = blob('{}');
      await c.pushBlob('ref/r', empty);
      const subject = { mediaType: OCI_MANIFEST, digest: m.digest, size: m.data.length };
      const sig = imageManifest(empty, [], { artifactType: 'application/vnd.test.sig', subject });
      let r = await c.pushManifest('ref/r', sig.digest, sig);
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('oci-subject'), m.digest);
      r = await c.req('GET', `/v2/ref/r/referrers/${m.digest}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), OCI_INDEX);
      const list = (await r.json()) as { manifests: { digest: string; artifactType: string }[] };
      assert.deepEqual(list.manifests.map((d) => [d.digest, d.artifactType]), [[sig.digest, 'application/vnd.test.sig']]);
      r = await c.req('GET', `/v2/ref/r/referrers/${m.digest}?artifactType=other/x`);
      assert.equal(r.headers.get('oci-filters-applied'), 'artifactType');
      assert.deepEqual(((await r.json()) as { manifests: unknown[] }).manifests, []);
      r = await c.req('GET', `/v2/nothing/here/referrers/${sha256('x')}`);
      assert.equal(r.status, 200);
    });

    test('cross-repository mount: 201 when the source holds the blob, 202 session otherwise', async () => {
      const b = blob(5000);
      await c.pushBlob('mount/src', b);
      let r = await c.req('POST', `/v2/mount/dst/blobs/uploads/?mount=${b.digest}&from=mount/src`);
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('location'), `/v2/mount/dst/blobs/${b.digest}`);
      r = await c.req('POST', `/v2/mount/dst2/blobs/uploads/?mount=${blob(3).digest}&from=mount/src`);
      assert.equal(r.status, 202);
      assert.match(r.headers.get('location')!, /blobs\/uploads\//);
    });

    test('deletes: tag, manifest by digest, referenced blob refused, blob', async () => {
      const cfg = imageConfig();
      const layer = blob(100);
      for (const b of [cfg, layer]) await c.pushBlob('del/me', b);
      const m = imageManifest(cfg, [layer]);
      await c.pushManifest('del/me', 'v1', m);
      let r = await c.req('DELETE', `/v2/del/me/blobs/${layer.digest}`);
      assert.equal(r.status, 405, 'a referenced blob is not deleted');
      r = await c.req('DELETE', '/v2/del/me/manifests/v1');
      assert.equal(r.status, 202);
      assert.equal((await c.req('GET', '/v2/del/me/manifests/v1')).status, 404);
      r = await c.req('DELETE', `/v2/del/me/manifests/${m.digest}`);
      assert.equal(r.status, 202);
      r = await c.req('GET', `/v2/del/me/manifests/${m.digest}`);
      assert.equal(r.status, 404);
      r = await c.req('DELETE', `/v2/del/me/blobs/${layer.digest}`);
      assert.equal(r.status, 202);
      assert.equal((await c.req('HEAD', `/v2/del/me/blobs/${layer.digest}`)).status, 404);
      // zot keeps the emptied repository: an empty tag list, MANIFEST_UNKNOWN for the old tag.
      r = await c.req('GET', '/v2/del/me/tags/list');
      assert.deepEqual(await r.json(), { name: 'del/me', tags: [] });
      r = await c.req('GET', '/v2/del/me/manifests/v1');
      assert.deepEqual(await Client.codes(r), ['MANIFEST_UNKNOWN']);
    });

    test('bad input gets the spec error envelope, never a 500', async () => {
      const cfg = imageConfig();
      await c.pushBlob('bad/in', cfg);
      const good = imageManifest(cfg, []);
      await c.pushManifest('bad/in', 'ok', good);
      const cases: [string, string, string, { body?: Buffer | string; headers?: Record<string, string> }, number, string][] = [
        ['upper-case name', 'GET', '/v2/Bad/manifests/x', {}, 400, 'NAME_INVALID'],
        ['encoded slash', 'GET', '/v2/a%2Fb/tags/list', {}, 400, 'NAME_INVALID'],
        ['overlong name', 'GET', `/v2/${'a'.repeat(300)}/tags/list`, {}, 400, 'NAME_INVALID'],
        ['unknown repo tags', 'GET', '/v2/no/such/tags/list', {}, 404, 'NAME_UNKNOWN'],
        ['unknown repo manifest', 'GET', '/v2/no/such/manifests/latest', {}, 404, 'NAME_UNKNOWN'],
        ['unknown manifest', 'GET', '/v2/bad/in/manifests/nope', {}, 404, 'MANIFEST_UNKNOWN'],
        ['bad digest', 'GET', '/v2/bad/in/blobs/sha256:1234', {}, 400, 'DIGEST_INVALID'],
        ['unknown blob', 'GET', `/v2/bad/in/blobs/${sha256('nope')}`, {}, 404, 'BLOB_UNKNOWN'],
        ['unknown upload', 'GET', '/v2/bad/in/blobs/uploads/00000000-0000-4000-8000-000000000000', {}, 404, 'BLOB_UPLOAD_UNKNOWN'],
        ['garbage upload id', 'PATCH', '/v2/bad/in/blobs/uploads/..%2F..%2Fx', { body: 'x' }, 404, 'BLOB_UPLOAD_UNKNOWN'],
        ['wrong digest', 'POST', `/v2/bad/in/blobs/uploads/?digest=${sha256('other')}`, { body: 'content' }, 400, 'DIGEST_INVALID'],
        ['malformed manifest', 'PUT', '/v2/bad/in/manifests/x', { body: '{not json', headers: { 'Content-Type': OCI_MANIFEST } }, 400, 'MANIFEST_INVALID'],
        ['manifest blob unknown', 'PUT', '/v2/bad/in/manifests/x', { body: imageManifest(cfg, [blob(9)]).data, headers: { 'Content-Type': OCI_MANIFEST } }, 404, 'MANIFEST_BLOB_UNKNOWN'],
        ['digest mismatch', 'PUT', `/v2/bad/in/manifests/${sha256('x')}`, { body: good.data, headers: { 'Content-Type': OCI_MANIFEST } }, 400, 'DIGEST_INVALID'],
        ['oversized manifest', 'PUT', '/v2/bad/in/manifests/big', { body: Buffer.alloc(4 * 1024 * 1024 + 10, 32), headers: { 'Content-Type': OCI_MANIFEST } }, 413, 'MANIFEST_INVALID'],
        ['bad tag', 'PUT', '/v2/bad/in/manifests/-bad', { body: good.data, headers: { 'Content-Type': OCI_MANIFEST } }, 400, 'MANIFEST_INVALID'],
        ['bad page size', 'GET', '/v2/bad/in/tags/list?n=abc', {}, 400, 'UNSUPPORTED'],
        ['unknown route', 'GET', '/v3/', {}, 404, 'NOT_FOUND'],
        ['wrong method', 'POST', '/v2/bad/in/manifests/ok', {}, 405, 'METHOD_NOT_ALLOWED'],
      ];
      for (const [name, method, path, init, status, code] of cases) {
        const r = await c.req(method, path, init);
        assert.equal(r.status, status, `${name}: status`);
        assert.deepEqual(await Client.codes(r), [code], `${name}: code`);
      }
      for (const path of ['/v2/a/../b/manifests/x', '/v2/a/%2e%2e/b/tags/list', '/v2/../../etc/tags/list', '/v2//abs/tags/list']) {
        const raw = await c.raw('GET', path);
        assert.equal(raw.status, 400, path);
        assert.equal(JSON.parse(raw.body).errors[0].code, 'NAME_INVALID', path);
      }
      const r = await c.req('GET', '/v2/bad/in/manifests/ok');
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), good.data, 'stored content unchanged');
    });

    test('a multi-arch index is accepted once its children exist', async () => {
      const cfg = imageConfig();
      await c.pushBlob('multi/arch', cfg);
      const m1 = imageManifest(cfg, [], { annotations: { a: '1' } });
      const m2 = imageManifest(cfg, [], { annotations: { a: '2' } });
      const idx = imageIndex([m1, m2]);
      let r = await c.pushManifest('multi/arch', 'latest', idx, OCI_INDEX);
      assert.equal(r.status, 404, 'children missing');
      await c.pushManifest('multi/arch', m1.digest, m1);
      await c.pushManifest('multi/arch', m2.digest, m2);
      r = await c.pushManifest('multi/arch', 'latest', idx, OCI_INDEX);
      assert.equal(r.status, 201);
      r = await c.req('DELETE', `/v2/multi/arch/manifests/${m1.digest}`);
      assert.equal(r.status, 405, 'a child of a stored index is not deleted');
    });
  });
}
