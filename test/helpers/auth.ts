/**
 * Identity fixtures for the auth tests, all real: `htpasswd -B` password files, openssl
 * certificates, a throwaway `slapd`, and token signing keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './process.ts';
import { run } from './tools.ts';

/** `Authorization: Basic ...` for user:password. */
export function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** Writes an htpasswd file with `htpasswd -B` (bcrypt, `$2y$`), one call per user. */
export async function writeHtpasswd(path: string, users: Record<string, string>, cost = 5): Promise<void> {
  await writeFile(path, '');
  for (const [user, password] of Object.entries(users)) await run('htpasswd', ['-B', '-b', '-C', String(cost), path, user, password]);
}

export interface Certs {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** A client certificate per name: `{cert, key}` file paths. */
  clients: Record<string, { cert: string; key: string }>;
}

/**
 * A CA, a server certificate for 127.0.0.1/localhost, and client certificates (CN = name,
 * plus an email, DNS and SPIFFE URI SAN) signed by the same CA, made with openssl.
 */
export async function makeCerts(dir: string, clients: string[] = [], opts: { serverName?: string; caName?: string } = {}): Promise<Certs> {
  await mkdir(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const ossl = (args: string[]) => run('openssl', args);
  await ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', `/CN=${opts.caName ?? 'skiff test CA'}`]);
  const sign = async (name: string, subj: string, san: string, usage: string) => {
    await writeFile(p(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
    await ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', subj]);
    await ossl(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${name}.pem`), '-days', '2', '-extfile', p(`${name}.ext`)]);
  };
  await sign('server', `/CN=${opts.serverName ?? 'skiff server'}`, 'IP:127.0.0.1,DNS:localhost', 'serverAuth');
  const out: Certs = { dir, ca: p('ca.pem'), caKey: p('ca.key'), serverCert: p('server.pem'), serverKey: p('server.key'), clients: {} };
  for (const c of clients) {
    await sign(c, `/CN=${c}/O=skiff-tests`, `email:${c}@example.org,DNS:${c}.clients.example.org,URI:spiffe://example.org/ns/ci/sa/${c}`, 'clientAuth');
    out.clients[c] = { cert: p(`${c}.pem`), key: p(`${c}.key`) };
  }
  return out;
}

export interface Slapd {
  url: string;
  port: number;
  baseDN: string;
  bindDN: string;
  bindPassword: string;
  stop(): Promise<void>;
}

/**
 * A throwaway OpenLDAP server on 127.0.0.1: slapd.conf in a temp dir (mdb backend, the
 * memberof overlay so users carry `memberOf`), users and groups loaded with ldapadd.
 */
export async function startSlapd(dir: string, users: Record<string, { password: string; groups: string[] }>, tls?: { ca: string; cert: string; key: string }): Promise<Slapd> {
  const baseDN = 'dc=skiff,dc=test';
  const bindDN = `cn=admin,${baseDN}`;
  const bindPassword = 'admin-secret';
  await mkdir(join(dir, 'db'), { recursive: true });
  const conf = join(dir, 'slapd.conf');
  await writeFile(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'include /etc/ldap/schema/nis.schema',
      `pidfile ${join(dir, 'slapd.pid')}`,
      ...(tls ? [`TLSCACertificateFile ${tls.ca}`, `TLSCertificateFile ${tls.cert}`, `TLSCertificateKeyFile ${tls.key}`] : []),
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'moduleload memberof',
      'database mdb',
      `suffix "${baseDN}"`,
      `rootdn "${bindDN}"`,
      `rootpw ${bindPassword}`,
      `directory ${join(dir, 'db')}`,
      'maxsize 10485760',
      'overlay memberof',
      'memberof-group-oc groupOfNames',
      'memberof-member-ad member',
      'memberof-memberof-ad memberOf',
      'memberof-refint true',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}/`;
  const child: ChildProcess = spawn('slapd', ['-d', '0', '-h', url, '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await run('ldapsearch', ['-x', '-H', url, '-D', bindDN, '-w', bindPassword, '-b', baseDN, '-s', 'base'], { allowFail: true });
    if (r.code === 0 || r.code === 32) break; // 32: no such object (the base is not loaded yet)
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`slapd did not start: ${stderr}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  const groups = new Map<string, string[]>();
  for (const [u, { groups: gs }] of Object.entries(users)) for (const g of gs) groups.set(g, [...(groups.get(g) ?? []), u]);
  const ldif: string[] = [
    `dn: ${baseDN}\nobjectClass: dcObject\nobjectClass: organization\ndc: skiff\no: skiff\n`,
    `dn: ou=people,${baseDN}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${baseDN}\nobjectClass: organizationalUnit\nou: groups\n`,
    `dn: ou=staff,ou=people,${baseDN}\nobjectClass: organizationalUnit\nou: staff\n`,
  ];
  for (const [u, { password }] of Object.entries(users)) {
    // Users whose name starts with "deep" live one level down (for subtreeSearch).
    const ou = u.startsWith('deep') ? `ou=staff,ou=people,${baseDN}` : `ou=people,${baseDN}`;
    ldif.push(`dn: uid=${u},${ou}\nobjectClass: inetOrgPerson\nuid: ${u}\ncn: ${u}\nsn: ${u}\nmail: ${u}@example.org\nuserPassword: ${password}\n`);
  }
  for (const [g, members] of groups) {
    const dns = members.map((u) => `member: uid=${u},${u.startsWith('deep') ? `ou=staff,ou=people,${baseDN}` : `ou=people,${baseDN}`}`).join('\n');
    ldif.push(`dn: cn=${g},ou=groups,${baseDN}\nobjectClass: groupOfNames\ncn: ${g}\n${dns}\n`);
  }
  const file = join(dir, 'data.ldif');
  await writeFile(file, ldif.join('\n'));
  await run('ldapadd', ['-x', '-H', url, '-D', bindDN, '-w', bindPassword, '-f', file]);
  return {
    url,
    port,
    baseDN,
    bindDN,
    bindPassword,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((res) => child.once('exit', res));
    },
  };
}
