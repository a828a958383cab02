/**
 * Docker Hub naming: an upstream URL on registry-1.docker.io maps a one-component name to
 * `library/<name>` (what `docker pull alpine` does) and leaves longer names alone; the local
 * name stays the one the client asked for. Docker Hub itself is not reachable from the tests
 * (loopback only), so "registry-1.docker.io" here is Debian's docker-registry on 127.0.0.1
 * behind TLS with a certificate for that name, reached through SKIFF_SYNC_RESOLVE, which pins
 * the host to an address while TLS still verifies the name.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parsePins } from '../../src/extensions/sync/pins.ts';
import { startDistribution, type Distribution } from '../helpers/distribution.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, Skopeo, writePolicy } from '../helpers/tools.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';
const HUB = 'registry-1.docker.io';

const get = async (base: string, path: string) => {
  const r = await fetch(`${base}${path}`, { headers: { accept: ACCEPT } });
  await r.arrayBuffer();
  return { status: r.status, digest: r.headers.get('docker-content-digest') };
};

describe('SKIFF_SYNC_RESOLVE values', () => {
  test('host=address pairs, any case; malformed entries are errors that name them', () => {
    assert.deepEqual([...parsePins(' Registry-1.Docker.IO=127.0.0.1, mirror.lan=::1 ')], [[HUB, '127.0.0.1'], ['mirror.lan', '::1']]);
    assert.equal(parsePins(undefined).size, 0);
    for (const bad of ['registry-1.docker.io', '=127.0.0.1', 'host=not-an-ip']) assert.throws(() => parsePins(bad), new RegExp(bad.replace(/\./g, '\\.')));
  });
});

describe('Docker Hub library/ mapping', { skip: missing('skopeo', 'docker-registry', 'openssl') }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let hub: Distribution;
  let skiff: TestRegistry;
  const digests = { official: '', user: '' };

  before(async () => {
    tmp = await tempDir('skiff-sync-hub-');
    const dir = tmp.dir;
    const certs = join(dir, 'certs');
    await mkdir(certs);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'certs/ca.crt', '-days', '1', '-subj', '/CN=hub-test-ca');
    await writeFile(join(dir, 'server.ext'), `subjectAltName=DNS:${HUB},IP:127.0.0.1\n`);
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${HUB}`);
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'certs/ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'server.ext');
    hub = await startDistribution(dir, { tls: { certificate: join(dir, 'server.crt'), key: join(dir, 'server.key') } });

    const skopeo = new Skopeo(await writePolicy(dir));
    digests.official = await makeOciLayout(join(dir, 'official'), { tag: '3', layers: 2, seed: 'official' });
    digests.user = await makeOciLayout(join(dir, 'user'), { tag: 'v1', layers: 1, seed: 'user' });
    await skopeo.copy(`oci:${join(dir, 'official')}:3`, `docker://${hub.hostPort}/library/alpine:3`);
    await skopeo.copy(`oci:${join(dir, 'user')}:v1`, `docker://${hub.hostPort}/someone/tool:v1`);

    const port = new URL(hub.url).port;
    process.env.SKIFF_SYNC_RESOLVE = `${HUB}=127.0.0.1`;
    skiff = await startTestRegistry({
      config: { extensions: { sync: { registries: [{ urls: [`https://${HUB}:${port}`], onDemand: true, tlsVerify: true, certDir: certs }] } } },
    });
  });

  after(async () => {
    delete process.env.SKIFF_SYNC_RESOLVE;
    await skiff?.stop();
    await hub?.stop();
    await tmp?.cleanup();
  });

  test('alpine is fetched as library/alpine and kept as alpine', async () => {
    assert.deepEqual(await get(skiff.url, '/v2/alpine/manifests/3'), { status: 200, digest: digests.official });
    const catalog = (await (await fetch(`${skiff.url}/v2/_catalog`)).json()) as { repositories: string[] };
    assert.ok(catalog.repositories.includes('alpine'), JSON.stringify(catalog));
    assert.ok(!catalog.repositories.includes('library/alpine'), JSON.stringify(catalog));
  });

  test('names with a namespace, library/ included, are asked for as they are', async () => {
    assert.deepEqual(await get(skiff.url, '/v2/library/alpine/manifests/3'), { status: 200, digest: digests.official });
    assert.deepEqual(await get(skiff.url, '/v2/someone/tool/manifests/v1'), { status: 200, digest: digests.user });
    // `tool` alone would be library/tool upstream, which does not exist.
    assert.equal((await get(skiff.url, '/v2/tool/manifests/v1')).status, 404);
  });
});
