/**
 * Small files an upstream client needs: a credentials file and a certificate directory
 * (sync's `credentialsFile` and `certDir`). Lives in platform because only platform,
 * config and storage/layout touch node:fs; the parsing rules are here so every caller
 * reads them the same way.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** `{"host:port": {"username": ..., "password": ...}}`, zot's sync credentials file. */
export type CredentialsMap = Record<string, { username: string; password: string }>;

/** Reads and checks a credentials file; a failure names the file and what is wrong. */
export async function readCredentialsFile(path: string): Promise<CredentialsMap> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read credentials file ${path}: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`credentials file ${path}: must be a JSON object keyed by host[:port]`);
  const out: CredentialsMap = {};
  for (const [host, v] of Object.entries(doc)) {
    const c = v as { username?: unknown; password?: unknown } | null;
    if (typeof c?.username !== 'string' || typeof c.password !== 'string') throw new Error(`credentials file ${path}: "${host}" needs string username and password`);
    out[host] = { username: c.username, password: c.password };
  }
  return out;
}

/** PEM material found in a `certDir`: each part only when its file exists. */
export interface CertDirMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * zot's certDir convention (containers/image `certs.d` style): `ca.crt` trusts a private
 * CA, `client.cert` + `client.key` are the client certificate for mutual TLS.
 */
export async function readCertDir(dir: string): Promise<CertDirMaterial> {
  const opt = (name: string) =>
    readFile(join(dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw new Error(`cannot read ${join(dir, name)}: ${err.message}`);
    });
  const [ca, cert, key] = await Promise.all([opt('ca.crt'), opt('client.cert'), opt('client.key')]);
  if ((cert === undefined) !== (key === undefined)) throw new Error(`certDir ${dir}: client.cert and client.key must both be present or both absent`);
  const out: CertDirMaterial = {};
  if (ca) out.ca = ca;
  if (cert && key) Object.assign(out, { cert, key });
  return out;
}
