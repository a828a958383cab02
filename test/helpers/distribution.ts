/**
 * Real upstreams for sync tests: Debian's docker-registry (CNCF distribution 2.8) run as a
 * private instance on 127.0.0.1 with a temp config (never the system service), optionally
 * behind Docker token auth with a small token issuer signed by jose; and an HTTP proxy in
 * front of any upstream that counts requests and can cut a response midway (a flaky link).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SignJWT, importPKCS8 } from 'jose';
import { freePort } from './process.ts';

export interface Distribution {
  url: string;
  hostPort: string;
  stop(): Promise<void>;
  /** Starts it again on the same port and storage (after stop). */
  restart(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** Options of a docker-registry instance: token or htpasswd auth, TLS (with client CAs: mutual TLS). */
export interface DistributionOptions {
  token?: { realm: string; service: string; issuer: string; rootcertbundle: string };
  htpasswd?: string;
  tls?: { certificate: string; key: string; clientca?: string };
}

/** docker-registry over `dir` (config, storage, log), on a free loopback port. */
export async function startDistribution(dir: string, opts: DistributionOptions = {}): Promise<Distribution> {
  const port = await freePort();
  const yaml: string[] = [
    'version: 0.1',
    'log:\n  level: error\n  accesslog:\n    disabled: true',
    `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true`,
    `http:\n  addr: 127.0.0.1:${port}`,
  ];
  if (opts.tls) {
    yaml.push(`  tls:\n    certificate: ${opts.tls.certificate}\n    key: ${opts.tls.key}`);
    if (opts.tls.clientca) yaml.push(`    clientcas:\n      - ${opts.tls.clientca}`);
  }
  const t = opts.token;
  if (t) yaml.push(`auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.rootcertbundle}`);
  if (opts.htpasswd) yaml.push(`auth:\n  htpasswd:\n    realm: skiff-test\n    path: ${opts.htpasswd}`);
  const config = join(dir, 'registry.yml');
  await writeFile(config, `${yaml.join('\n')}\n`);
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  let child: ChildProcess;
  const launch = async () => {
    const fd = openSync(join(dir, 'registry.log'), 'a');
    child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${await readFile(join(dir, 'registry.log'), 'utf8')}`);
      // A TCP connect is enough (and works whatever TLS and auth demand of a client).
      const ok = await new Promise<boolean>((r) => {
        const s = connect(port, '127.0.0.1', () => r(true)).on('error', () => r(false));
        s.unref();
        setTimeout(() => s.destroy(), 200);
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error('docker-registry did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await launch();
  return {
    url,
    hostPort: `127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
    },
    restart: launch,
  };
}

/** A token issuer for distribution's `auth.token`, RS256 with the cert in `x5c`. */
export interface TokenIssuer {
  realm: string;
  issuer: string;
  service: string;
  certFile: string;
  /** Token requests received: their scope and whether the basic credentials were right. */
  requests: { scope: string; authorized: boolean }[];
  stop(): Promise<void>;
}

export async function startTokenIssuer(dir: string, user: { username: string; password: string }): Promise<TokenIssuer> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=skiff-test-token-issuer'], { stdio: 'ignore' });
  const key = await importPKCS8(await readFile(keyFile, 'utf8'), 'RS256');
  const der = (await readFile(certFile, 'utf8')).replace(/-----[^-]+-----|\s/g, '');
  const issuer = 'skiff-test-issuer';
  const service = 'skiff-test-registry';
  const requests: TokenIssuer['requests'] = [];
  const expected = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scope = u.searchParams.get('scope') ?? '';
    const authorized = req.headers.authorization === expected;
    requests.push({ scope, authorized });
    if (!authorized) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    const access = scope
      .split(' ')
      .filter(Boolean)
      .map((s) => {
        const [type, ...rest] = s.split(':');
        const actions = rest.pop() ?? '';
        return { type, name: rest.join(':'), actions: actions.split(',') };
      });
    void new SignJWT({ access })
      .setProtectedHeader({ alg: 'RS256', x5c: [der] })
      .setIssuer(issuer)
      .setAudience(service)
      .setSubject(user.username)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .setJti(randomUUID())
      .sign(key)
      .then((token) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { realm: `http://127.0.0.1:${port}/token`, issuer, service, certFile, requests, stop: () => new Promise((r) => server.close(() => r())) };
}

/** One request seen by the proxy. */
export interface Seen {
  method: string;
  path: string;
  range?: string;
}

export interface Proxy {
  url: string;
  hostPort: string;
  seen: Seen[];
  /** The next response whose path matches `pattern` is cut after `bytes` body bytes. */
  cutNext(pattern: RegExp, bytes: number): void;
  /** While on, requests are accepted and never answered (a stalled upstream). */
  hold(on: boolean): void;
  stop(): Promise<void>;
}

/** An HTTP proxy in front of `target` (`http://host:port`) that records every request. */
export async function startProxy(target: string): Promise<Proxy> {
  const seen: Seen[] = [];
  let cut: { pattern: RegExp; bytes: number } | undefined;
  let holding = false;
  const t = new URL(target);
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', ...(req.headers.range ? { range: req.headers.range } : {}) });
    if (holding) return;
    const fault = cut && cut.pattern.test(req.url ?? '') ? cut : undefined;
    if (fault) cut = undefined;
    const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (ures: IncomingMessage) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      if (!fault) {
        ures.pipe(res);
        return;
      }
      let sent = 0;
      ures.on('data', (chunk: Buffer) => {
        if (sent >= fault.bytes) return;
        const part = chunk.subarray(0, fault.bytes - sent);
        sent += part.length;
        res.write(part);
        if (sent >= fault.bytes) {
          ures.destroy();
          res.socket?.destroy();
        }
      });
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    seen,
    cutNext(pattern, bytes) {
      cut = { pattern, bytes };
    },
    hold(on) {
      holding = on;
    },
    stop: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Pushes a blob with POST + PUT (the two-step upload every registry supports). */
export async function pushBlob(url: string, repo: string, data: Buffer, digest: string): Promise<void> {
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`POST upload ${repo}: ${start.status}`);
  const loc = new URL(start.headers.get('location') ?? '', url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: new Uint8Array(data), headers: { 'content-type': 'application/octet-stream' } });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`PUT blob ${repo}@${digest}: ${put.status}`);
}

/** Pushes a manifest under a tag or digest. */
export async function pushManifest(url: string, repo: string, ref: string, body: Buffer, type: string): Promise<void> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: new Uint8Array(body), headers: { 'content-type': type } });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`PUT manifest ${repo}:${ref}: ${res.status} ${text}`);
}

/** A small artifact (signature, SBOM) as an OCI manifest over the empty config and one layer. */
export function artifact(artifactType: string, payload: string, subject?: { digest: string; size: number; mediaType: string }) {
  const empty = Buffer.from('{}');
  const layer = Buffer.from(payload);
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const json: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: empty.length },
    layers: [{ mediaType: 'application/octet-stream', digest: sha(layer), size: layer.length }],
    ...(subject ? { subject } : {}),
  };
  const manifest = Buffer.from(JSON.stringify(json));
  return { blobs: [empty, layer].map((data) => ({ data, digest: sha(data) })), manifest, digest: sha(manifest), size: manifest.length, mediaType: 'application/vnd.oci.image.manifest.v1+json' };
}

/** Pushes an artifact's blobs and manifest (by digest, or under `tag`). */
export async function pushArtifact(url: string, repo: string, a: ReturnType<typeof artifact>, tag?: string): Promise<void> {
  for (const b of a.blobs) await pushBlob(url, repo, b.data, b.digest);
  await pushManifest(url, repo, tag ?? a.digest, a.manifest, a.mediaType);
}
