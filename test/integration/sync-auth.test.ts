/**
 * Upstream access: a docker-registry behind the Docker token flow (a token issuer written
 * here, RS256 with jose, its certificate generated with openssl), and a docker-registry
 * behind HTTPS with mutual TLS and htpasswd basic auth. skiff reads the credentials from
 * zot's `credentialsFile` and the CA and client certificate from `certDir`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDistribution, startTokenIssuer, type Distribution, type TokenIssuer } from '../helpers/distribution.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, Skopeo, writePolicy } from '../helpers/tools.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';
const USER = { username: 'mirror', password: 's3cret-pass' };

const get = async (base: string, path: string) => {
  const r = await fetch(`${base}${path}`, { headers: { accept: ACCEPT } });
  await r.arrayBuffer();
  return { status: r.status, digest: r.headers.get('docker-content-digest') };
};

describe('sync from authenticated upstreams', { skip: missing('skopeo', 'docker-registry', 'openssl') }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let skopeo: Skopeo;
  let layout: string;
  let digest: string;
  const stops: (() => Promise<void>)[] = [];

  before(async () => {
    tmp = await tempDir('skiff-sync-auth-');
    skopeo = new Skopeo(await writePolicy(tmp.dir));
    layout = join(tmp.dir, 'layout');
    digest = await makeOciLayout(layout, { tag: 'v1', layers: 3, seed: 'auth' });
  });

  after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await tmp?.cleanup();
  });

  const credentials = async (name: string, hostPort: string, user = USER) => {
    const file = join(tmp.dir, `${name}-credentials.json`);
    await writeFile(file, JSON.stringify({ [hostPort]: user }));
    return file;
  };

  const skiffFor = async (registry: Record<string, unknown>, credentialsFile?: string): Promise<TestRegistry> => {
    const s = await startTestRegistry({ config: { extensions: { sync: { ...(credentialsFile ? { credentialsFile } : {}), registries: [{ onDemand: true, ...registry }] } } } });
    stops.push(() => s.stop());
    return s;
  };

  test('Docker token flow: one token per scope, reused for every blob', async () => {
    const dir = join(tmp.dir, 'token');
    await mkdir(dir);
    const issuer: TokenIssuer = await startTokenIssuer(dir, USER);
    stops.push(() => issuer.stop());
    const up: Distribution = await startDistribution(dir, { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, rootcertbundle: issuer.certFile } });
    stops.push(() => up.stop());
    await skopeo.copy(`oci:${layout}:v1`, `docker://${up.hostPort}/auth/img:v1`, ['--dest-creds', `${USER.username}:${USER.password}`]);
    const anonymous = await fetch(`${up.url}/v2/auth/img/manifests/v1`);
    assert.equal(anonymous.status, 401, 'the upstream really demands a token');

    issuer.requests.length = 0;
    const skiff = await skiffFor({ urls: [up.url] }, await credentials('token', up.hostPort));
    assert.deepEqual(await get(skiff.url, '/v2/auth/img/manifests/v1'), { status: 200, digest });
    const blobs = await fetch(`${skiff.url}/v2/auth/img/blobs/${(JSON.parse(await (await fetch(`${skiff.url}/v2/auth/img/manifests/v1`, { headers: { accept: ACCEPT } })).text()) as { layers: { digest: string }[] }).layers[0]!.digest}`);
    assert.equal(blobs.status, 200);
    await blobs.arrayBuffer();
    const pulls = issuer.requests.filter((r) => r.scope === 'repository:auth/img:pull');
    assert.equal(pulls.length, 1, `one token for the manifest, 4 blobs, referrers and tag checks: ${JSON.stringify(issuer.requests)}`);
    assert.ok(issuer.requests.every((r) => r.authorized), 'basic credentials from credentialsFile');

    // Wrong credentials: the upstream's 401 falls through to "not found here".
    const denied = await skiffFor({ urls: [up.url] }, await credentials('token-bad', up.hostPort, { username: USER.username, password: 'wrong' }));
    assert.equal((await get(denied.url, '/v2/auth/img/manifests/v1')).status, 404);
  });

  test('HTTPS with a private CA, mutual TLS and htpasswd basic auth (certDir, tlsVerify)', { skip: missing('htpasswd') }, async () => {
    const dir = join(tmp.dir, 'tls');
    const certs = join(dir, 'certs');
    await mkdir(certs, { recursive: true });
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'certs/ca.crt', '-days', '1', '-subj', '/CN=skiff-test-ca');
    await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
    await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
    for (const [name, ext] of [['server', 'server.ext'], ['client', 'client.ext']] as const) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'certs/ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', ext);
    }
    execFileSync('cp', [join(dir, 'client.crt'), join(certs, 'client.cert')]);
    execFileSync('cp', [join(dir, 'client.key'), join(certs, 'client.key')]);
    await writeFile(join(dir, 'htpasswd'), execFileSync('htpasswd', ['-Bbn', USER.username, USER.password], { encoding: 'utf8' }));
    const up = await startDistribution(dir, {
      htpasswd: join(dir, 'htpasswd'),
      tls: { certificate: join(dir, 'server.crt'), key: join(dir, 'server.key'), clientca: join(certs, 'ca.crt') },
    });
    stops.push(() => up.stop());
    await skopeo.run(['copy', '--quiet', '--dest-cert-dir', certs, '--dest-creds', `${USER.username}:${USER.password}`, `oci:${layout}:v1`, `docker://${up.hostPort}/tls/img:v1`]);

    const creds = await credentials('tls', up.hostPort);
    const ok = await skiffFor({ urls: [up.url], tlsVerify: true, certDir: certs }, creds);
    assert.deepEqual(await get(ok.url, '/v2/tls/img/manifests/v1'), { status: 200, digest });

    // Without the CA the upstream's certificate is refused; with tlsVerify off the CA is not
    // needed, but the client certificate still is (mutual TLS).
    const untrusted = await skiffFor({ urls: [up.url], tlsVerify: true }, creds);
    assert.equal((await get(untrusted.url, '/v2/tls/img/manifests/v1')).status, 404);
    await mkdir(join(dir, 'client-only'));
    execFileSync('cp', [join(certs, 'client.cert'), join(certs, 'client.key'), join(dir, 'client-only')]);
    const unverified = await skiffFor({ urls: [up.url], tlsVerify: false, certDir: join(dir, 'client-only') }, creds);
    assert.deepEqual(await get(unverified.url, '/v2/tls/img/manifests/v1'), { status: 200, digest });
  });
});
