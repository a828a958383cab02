/**
 * Real clients against the built skiff over HTTPS with certificates the test makes with
 * openssl: skopeo and podman with `--creds` (htpasswd password and an API key) and
 * `--cert-dir` (trusting the test CA), and skopeo presenting a client certificate to an
 * mTLS-only registry (identity = certificate CN, authorized by accessControl).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import { SignJWT } from 'jose';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeCerts, writeHtpasswd, type Certs } from '../helpers/auth.ts';
import { makeOciLayout } from '../helpers/oci-image.ts';
import { DIST, ensureBuilt, freePort } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing, run, writePolicy } from '../helpers/tools.ts';

interface Tls {
  ca: string;
  cert?: string;
  key?: string;
}

/** An HTTPS request trusting `tls.ca` (and presenting a client certificate when given). */
function https(url: string, tls: Tls, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ca = readFileSyncCached(tls.ca);
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, ca, ...(tls.cert ? { cert: readFileSyncCached(tls.cert), key: readFileSyncCached(tls.key!) } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
const pemCache = new Map<string, Buffer>();
function readFileSyncCached(p: string): Buffer {
  return pemCache.get(p)!;
}
async function loadPem(...paths: string[]) {
  for (const p of paths) pemCache.set(p, await readFile(p));
}

/** Runs `node dist/skiff.mjs serve` over HTTPS; ready when /livez answers over TLS. */
async function startTlsSkiff(work: string, http: Record<string, unknown>, tls: Tls): Promise<{ url: string; hostPort: string; child: ChildProcess; log: string; stop(): Promise<void> }> {
  await ensureBuilt();
  const port = await freePort();
  const config = { distSpecVersion: '1.1.1', storage: { rootDirectory: join(work, `root-${port}`) }, http: { address: '127.0.0.1', port: String(port), ...http }, log: { level: 'warn' } };
  const file = join(work, `config-${port}.json`);
  await writeFile(file, JSON.stringify(config));
  const log = join(work, `skiff-${port}.log`);
  const fd = openSync(log, 'a');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SKIFF_') || k === 'SKIFF_HTTP_ENGINE'));
  const child = spawn(process.execPath, [DIST, 'serve', file], { cwd: work, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const url = `https://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await https(`${url}/livez`, tls)).status === 200) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`skiff over TLS did not start:\n${await readFile(log, 'utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    hostPort: `127.0.0.1:${port}`,
    child,
    log,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

describe('skopeo and podman over HTTPS with credentials and certificates', { skip: missing('skopeo', 'podman', 'openssl', 'htpasswd'), concurrency: false }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let certs: Certs;
  let foreign: Certs;
  let basicReg: Awaited<ReturnType<typeof startTlsSkiff>>;
  let mtlsReg: Awaited<ReturnType<typeof startTlsSkiff>>;
  let tokenReg: Awaited<ReturnType<typeof startTlsSkiff>>;
  let tokenServer: Server;
  const tokenRequests: string[] = [];
  let policy: string;
  let layout: string;
  let trustDir: string;
  let clientDir: string;
  let strangerDir: string;
  let env: NodeJS.ProcessEnv;

  const skopeo = (args: string[], allowFail = false) => run('skopeo', ['--policy', policy, ...args], { allowFail, timeoutMs: 60_000 });
  const podman = (args: string[], allowFail = false) => {
    const d = tmp.dir;
    const isolated = ['--root', join(d, 'storage'), '--runroot', join(d, 'run'), '--tmpdir', join(d, 'ptmp'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
    return run('podman', [...isolated, ...args], { env, allowFail, timeoutMs: 90_000 });
  };

  before(async () => {
    tmp = await tempDir('skiff-e2e-auth-');
    certs = await makeCerts(join(tmp.dir, 'pki'), ['ci-bot', 'intruder']);
    foreign = await makeCerts(join(tmp.dir, 'foreign'), ['ci-bot'], { caName: 'foreign CA' });
    await loadPem(certs.ca, certs.clients['ci-bot']!.cert, certs.clients['ci-bot']!.key);
    policy = await writePolicy(tmp.dir);
    layout = join(tmp.dir, 'layout');
    await makeOciLayout(layout, { tag: 'v1', layers: 2 });
    // containers/image certs.d directories: ca.crt only, and ca.crt + a client certificate.
    trustDir = join(tmp.dir, 'trust');
    clientDir = join(tmp.dir, 'client');
    strangerDir = join(tmp.dir, 'stranger');
    for (const d of [trustDir, clientDir, strangerDir]) await mkdir(d, { recursive: true });
    await copyFile(certs.ca, join(trustDir, 'ca.crt'));
    await copyFile(certs.ca, join(clientDir, 'ca.crt'));
    await copyFile(certs.clients['ci-bot']!.cert, join(clientDir, 'client.cert'));
    await copyFile(certs.clients['ci-bot']!.key, join(clientDir, 'client.key'));
    await copyFile(certs.ca, join(strangerDir, 'ca.crt'));
    await copyFile(foreign.clients['ci-bot']!.cert, join(strangerDir, 'client.cert'));
    await copyFile(foreign.clients['ci-bot']!.key, join(strangerDir, 'client.key'));
    await writeFile(join(tmp.dir, 'registries.conf'), '');
    await writeFile(join(tmp.dir, 'containers.conf'), '');
    env = { ...process.env, CONTAINERS_REGISTRIES_CONF: join(tmp.dir, 'registries.conf'), CONTAINERS_CONF: join(tmp.dir, 'containers.conf') };

    const htpasswd = join(tmp.dir, 'htpasswd');
    await writeHtpasswd(htpasswd, { alice: 'alice-pw', reader: 'reader-pw' });
    basicReg = await startTlsSkiff(
      tmp.dir,
      {
        tls: { cert: certs.serverCert, key: certs.serverKey },
        realm: 'skiff-e2e',
        auth: { htpasswd: { path: htpasswd }, apikey: true },
        accessControl: { repositories: { '**': { policies: [{ users: ['alice'], actions: ['read', 'create', 'update', 'delete'] }, { users: ['reader'], actions: ['read'] }] } } },
      },
      { ca: certs.ca },
    );
    // A Docker token service: Basic credentials in, an RS256 JWT granting the requested scope out.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(join(tmp.dir, 'token-service.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    tokenServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      tokenRequests.push(url.search);
      if (req.headers.authorization !== `Basic ${Buffer.from('alice:token-pw').toString('base64')}`) {
        res.writeHead(401).end();
        return;
      }
      const access = url.searchParams.getAll('scope').map((sc) => {
        const [type, name, actions] = sc.split(':');
        return { type: type!, name: name!, actions: actions!.split(',') };
      });
      void new SignJWT({ access })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer('e2e-token-service')
        .setSubject('alice')
        .setAudience(url.searchParams.get('service') ?? '')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey)
        .then((token) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 })));
    });
    await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', r));
    const realm = `http://127.0.0.1:${(tokenServer.address() as { port: number }).port}/token`;
    tokenReg = await startTlsSkiff(
      tmp.dir,
      { tls: { cert: certs.serverCert, key: certs.serverKey }, auth: { bearer: { realm, service: 'skiff-e2e', cert: join(tmp.dir, 'token-service.pem') } } },
      { ca: certs.ca },
    );
    mtlsReg = await startTlsSkiff(
      tmp.dir,
      {
        tls: { cert: certs.serverCert, key: certs.serverKey, cacert: certs.ca },
        auth: { mtls: { identityAttributes: ['CommonName'] } },
        accessControl: { repositories: { '**': { policies: [{ users: ['ci-bot'], actions: ['read', 'create'] }] } } },
      },
      { ca: certs.ca, cert: certs.clients['ci-bot']!.cert, key: certs.clients['ci-bot']!.key },
    );
  });

  after(async () => {
    await basicReg?.stop();
    await mtlsReg?.stop();
    await tokenReg?.stop();
    await new Promise((r) => tokenServer?.close(r));
    await podman(['image', 'rm', '--all', '--force'], true).catch(() => undefined);
    await tmp?.cleanup();
  });

  test('skopeo: push and inspect with --creds and --cert-dir; wrong or missing credentials fail', async () => {
    const ref = `docker://${basicReg.hostPort}/e2e/app:v1`;
    await skopeo(['copy', '--quiet', '--dest-cert-dir', trustDir, '--dest-creds', 'alice:alice-pw', `oci:${layout}:v1`, ref]);
    const info = JSON.parse((await skopeo(['inspect', '--cert-dir', trustDir, '--creds', 'reader:reader-pw', ref])).stdout) as { RepoTags: string[] };
    assert.deepEqual(info.RepoTags, ['v1']);
    const anon = await skopeo(['inspect', '--cert-dir', trustDir, ref], true);
    assert.notEqual(anon.code, 0);
    assert.match(anon.stderr, /401|unauthorized|authentication required/i);
    const wrong = await skopeo(['inspect', '--cert-dir', trustDir, '--creds', 'alice:nope', ref], true);
    assert.notEqual(wrong.code, 0);
    const denied = await skopeo(['copy', '--quiet', '--dest-cert-dir', trustDir, '--dest-creds', 'reader:reader-pw', `oci:${layout}:v1`, `docker://${basicReg.hostPort}/e2e/other:v1`], true);
    assert.notEqual(denied.code, 0, 'a read-only user cannot push');
    assert.match(denied.stderr, /denied|403/i);
    // Without trusting the CA, TLS verification fails.
    const untrusted = await skopeo(['inspect', '--creds', 'alice:alice-pw', ref], true);
    assert.match(untrusted.stderr, /certificate|x509/i);
  });

  test('skopeo with an API key as the password', async () => {
    const made = await https(`${basicReg.url}/zot/auth/apikey`, { ca: certs.ca }, { method: 'POST', body: JSON.stringify({ label: 'e2e' }), headers: { Authorization: `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`, 'Content-Type': 'application/json' } });
    assert.equal(made.status, 201);
    const { apiKey } = JSON.parse(made.body) as { apiKey: string };
    await skopeo(['copy', '--quiet', '--dest-cert-dir', trustDir, '--dest-creds', `alice:${apiKey}`, `oci:${layout}:v1`, `docker://${basicReg.hostPort}/e2e/keyed:v1`]);
    const tags = JSON.parse((await skopeo(['list-tags', '--cert-dir', trustDir, '--creds', `alice:${apiKey}`, `docker://${basicReg.hostPort}/e2e/keyed`])).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags, ['v1']);
  });

  test('podman: push and pull with --creds and --cert-dir', async () => {
    const ref = `${basicReg.hostPort}/e2e/app:v1`;
    await podman(['pull', '--quiet', '--cert-dir', trustDir, '--creds', 'alice:alice-pw', '--signature-policy', policy, ref]);
    await podman(['tag', ref, `${basicReg.hostPort}/e2e/podman:v2`]);
    await podman(['push', '--quiet', '--cert-dir', trustDir, '--creds', 'alice:alice-pw', '--signature-policy', policy, `${basicReg.hostPort}/e2e/podman:v2`]);
    const tags = JSON.parse((await skopeo(['list-tags', '--cert-dir', trustDir, '--creds', 'reader:reader-pw', `docker://${basicReg.hostPort}/e2e/podman`])).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags, ['v2']);
    const denied = await podman(['pull', '--quiet', '--cert-dir', trustDir, '--creds', 'alice:wrong', '--signature-policy', policy, ref], true);
    assert.notEqual(denied.code, 0);
  });

  test('Docker token flow: skopeo follows the Bearer challenge to the token service', async () => {
    const ref = `docker://${tokenReg.hostPort}/tok/app:v1`;
    await skopeo(['copy', '--quiet', '--dest-cert-dir', trustDir, '--dest-creds', 'alice:token-pw', `oci:${layout}:v1`, ref]);
    const info = JSON.parse((await skopeo(['inspect', '--cert-dir', trustDir, '--creds', 'alice:token-pw', ref])).stdout) as { RepoTags: string[] };
    assert.deepEqual(info.RepoTags, ['v1']);
    assert.ok(tokenRequests.some((q) => q.includes('service=skiff-e2e') && /scope=repository%3Atok%2Fapp%3Apull%2Cpush|scope=repository:tok\/app:pull,push/.test(q)), tokenRequests.join('\n'));
    const refused = await skopeo(['inspect', '--cert-dir', trustDir, '--creds', 'alice:wrong', ref], true);
    assert.notEqual(refused.code, 0);
  });

  test('mTLS: the client certificate is the identity; no certificate or a foreign one gets nowhere', async () => {
    const ref = `docker://${mtlsReg.hostPort}/mtls/app:v1`;
    await skopeo(['copy', '--quiet', '--dest-cert-dir', clientDir, `oci:${layout}:v1`, ref]);
    const info = JSON.parse((await skopeo(['inspect', '--cert-dir', clientDir, ref])).stdout) as { RepoTags: string[] };
    assert.deepEqual(info.RepoTags, ['v1']);
    const noCert = await skopeo(['inspect', '--cert-dir', trustDir, ref], true);
    assert.notEqual(noCert.code, 0);
    assert.match(noCert.stderr, /certificate|tls|handshake/i);
    const stranger = await skopeo(['inspect', '--cert-dir', strangerDir, ref], true);
    assert.notEqual(stranger.code, 0);
    // The engine choice is logged loudly: node:https because of client certificates.
    assert.match(await readFile(mtlsReg.log, 'utf8'), /client certificates/);
  });
});
