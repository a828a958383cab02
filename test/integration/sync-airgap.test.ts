/**
 * Air gap: `skiff export` writes images with their referrers and cosign tags to an OCI
 * layout (a directory or a tar); `skiff import` loads one (or skopeo's oci-archive) into
 * another registry with the server stopped; and the exported directory serves as a sync
 * upstream (`file://…`) for a site seeded from a disk with the config it uses online.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportCommand } from '../../src/cli/export.ts';
import { importCommand } from '../../src/cli/import.ts';
import { sha256 } from '../helpers/content.ts';
import { artifact, pushArtifact } from '../helpers/distribution.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { freePort } from '../helpers/process.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, Skopeo, writePolicy } from '../helpers/tools.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

describe('air gap: export, import, and a layout on disk as a sync upstream', { skip: missing('skopeo') }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let skopeo: Skopeo;
  const d = { web: '', db: '', sig: '', cosign: '' };
  const running: TestRegistry[] = [];

  /** A config file for an offline command over `root` (its port has no server on it). */
  const configFor = async (name: string) => {
    const file = join(tmp.dir, `${name}.json`);
    await writeFile(file, JSON.stringify({ distSpecVersion: '1.1.1', storage: { rootDirectory: join(tmp.dir, name) }, http: { address: '127.0.0.1', port: String(await freePort()) }, log: { level: 'error' } }));
    return file;
  };

  const serve = async (name: string, config?: Record<string, unknown>) => {
    const r = await startTestRegistry({ engine: 'node', root: join(tmp.dir, name), ...(config ? { config } : {}) });
    running.push(r);
    return r;
  };

  const get = async (r: TestRegistry, path: string) => {
    const res = await fetch(`${r.url}${path}`, { headers: { accept: ACCEPT } });
    const body = await res.text();
    return { status: res.status, digest: res.headers.get('docker-content-digest'), body };
  };

  before(async () => {
    tmp = await tempDir('skiff-airgap-');
    skopeo = new Skopeo(await writePolicy(tmp.dir));
    const src = await serve('src');
    const reg = `docker://${src.url.slice(7)}`;
    d.web = await makeOciLayout(join(tmp.dir, 'web'), { tag: 'v1', arches: ['amd64', 'arm64'], seed: 'web' });
    d.db = await makeOciLayout(join(tmp.dir, 'db'), { tag: 'v2', seed: 'db' });
    await skopeo.copy(`oci:${join(tmp.dir, 'web')}:v1`, `${reg}/apps/web:v1`, ['--all']);
    await skopeo.copy(`oci:${join(tmp.dir, 'db')}:v2`, `${reg}/apps/db:v2`);
    const index = await readFile(join(tmp.dir, 'web/blobs/sha256', d.web.slice(7)));
    const sig = artifact('application/vnd.dev.cosign.artifact.sig.v1+json', 'sig of web', { digest: d.web, size: index.length, mediaType: 'application/vnd.oci.image.index.v1+json' });
    await pushArtifact(src.url, 'apps/web', sig);
    d.sig = sig.digest;
    const cosign = artifact('application/vnd.dev.cosign.simplesigning.v1+json', 'legacy sig of web');
    await pushArtifact(src.url, 'apps/web', cosign, `${d.web.replace(':', '-')}.sig`);
    d.cosign = cosign.digest;
    await src.registry.close(2000);
  });

  after(async () => {
    for (const r of running) await r.registry.close(1000).catch(() => undefined);
    await tmp?.cleanup();
  });

  test('export to a directory and a tar; import both elsewhere; everything comes back', async () => {
    const cfg = await configFor('src');
    assert.equal(await exportCommand([cfg, 'apps/web:v1', 'apps/db', join(tmp.dir, 'usb')]), 0);
    assert.equal(await exportCommand([cfg, 'apps/web:v1', join(tmp.dir, 'web.tar')]), 0);
    const index = JSON.parse(await readFile(join(tmp.dir, 'usb/index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    const names = index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'] ?? `untagged ${m.digest}`).sort();
    assert.deepEqual(names, ['apps/db:v2', 'apps/web:v1', `apps/web:${d.web.replace(':', '-')}.sig`, `untagged ${d.sig}`].sort());
    // Another tool reads it: skopeo resolves a ref name of the form repo:tag.
    assert.equal(sha256(await skopeo.run(['inspect', '--raw', `oci:${join(tmp.dir, 'usb')}:apps/db:v2`]).then((r) => r.stdout)), d.db);

    assert.equal(await importCommand([await configFor('dst'), join(tmp.dir, 'usb')]), 0);
    assert.equal(await importCommand([await configFor('dst-tar'), join(tmp.dir, 'web.tar')]), 0);
    for (const name of ['dst', 'dst-tar']) {
      const r = await serve(name);
      assert.equal((await get(r, '/v2/apps/web/manifests/v1')).digest, d.web, `${name}: index digest kept`);
      const refs = JSON.parse((await get(r, `/v2/apps/web/referrers/${d.web}`)).body) as { manifests: { digest: string }[] };
      assert.deepEqual(refs.manifests.map((m) => m.digest), [d.sig], `${name}: the signature referrer came along`);
      assert.equal((await get(r, `/v2/apps/web/manifests/${d.web.replace(':', '-')}.sig`)).digest, d.cosign, `${name}: cosign tag`);
      await skopeo.copy(`docker://${r.url.slice(7)}/apps/web:v1`, `oci:${join(tmp.dir, `pulled-${name}`)}:v1`, ['--all']);
    }
    assert.equal((await get(running.at(-2)!, '/v2/apps/db/manifests/v2')).digest, d.db);
  });

  test('import an oci-archive made by skopeo into a repository named with --repo', async () => {
    const archive = join(tmp.dir, 'db-archive.tar');
    await skopeo.copy(`oci:${join(tmp.dir, 'db')}:v2`, `oci-archive:${archive}:v2`);
    const cfg = await configFor('archive');
    await assert.rejects(importCommand([cfg, archive]), /without a repository; pass --repo/);
    assert.equal(await importCommand([cfg, archive, '--repo', 'imported/db']), 0);
    const r = await serve('archive');
    assert.equal((await get(r, '/v2/imported/db/manifests/v2')).digest, d.db);
  });

  test('the exported directory is a sync upstream: on demand and periodic, after a dead URL', async () => {
    const usb = `file://${join(tmp.dir, 'usb')}`;
    const r = await serve('site', {
      extensions: {
        sync: {
          registries: [
            { urls: ['http://127.0.0.1:9', usb], onDemand: true, upstreamTimeout: '300ms' },
            { urls: [join(tmp.dir, 'usb')], pollInterval: '24h', content: [{ prefix: 'apps/db', destination: '/seeded' }] },
          ],
        },
      },
    });
    const web = await get(r, '/v2/apps/web/manifests/v1');
    assert.equal(web.status, 200);
    assert.equal(web.digest, d.web);
    const refs = JSON.parse((await get(r, `/v2/apps/web/referrers/${d.web}`)).body) as { manifests: { digest: string }[] };
    assert.deepEqual(refs.manifests.map((m) => m.digest), [d.sig]);
    await r.registry.scheduler.runNow('sync:1');
    assert.equal((await get(r, '/v2/seeded/apps/db/manifests/v2')).digest, d.db);
  });
});
