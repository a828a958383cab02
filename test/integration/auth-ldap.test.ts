/**
 * LDAP against a real OpenLDAP (`slapd` started by the test on loopback): bind DN from a
 * credentials file, user search with userAttribute/userFilter/subtreeSearch, groups from
 * `memberOf` feeding accessControl, StartTLS with a CA, LDAP next to htpasswd.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfigObject } from '../../src/config/index.ts';
import { basic, makeCerts, startSlapd, writeHtpasswd, type Slapd } from '../helpers/auth.ts';
import { Client } from '../helpers/client.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { missing } from '../helpers/tools.ts';

const skip = missing('slapd', 'ldapadd', 'openssl', 'htpasswd');

describe('LDAP authentication', { skip }, () => {
  let slapd: Slapd;
  let reg: TestRegistry;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let c: Client;
  let http: Record<string, unknown>;

  before(async () => {
    tmp = await tempDir('skiff-ldap-');
    const certs = await makeCerts(join(tmp.dir, 'certs'));
    slapd = await startSlapd(
      join(tmp.dir, 'slapd'),
      {
        alice: { password: 'alice-ldap', groups: ['devs'] },
        deepbob: { password: 'bob-ldap', groups: ['ops'] },
        carol: { password: 'carol-ldap', groups: [] },
      },
      { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey },
    );
    const credentials = join(tmp.dir, 'ldap-credentials.json');
    await writeFile(credentials, JSON.stringify({ bindDN: slapd.bindDN, bindPassword: slapd.bindPassword }));
    const htpasswd = join(tmp.dir, 'htpasswd');
    await writeHtpasswd(htpasswd, { local: 'local-pw' });
    http = {
      address: '127.0.0.1',
      port: '0',
      auth: {
        htpasswd: { path: htpasswd },
        ldap: {
          address: '127.0.0.1',
          port: slapd.port,
          insecure: true,
          baseDN: `ou=people,${slapd.baseDN}`,
          userAttribute: 'uid',
          userFilter: '(objectClass=inetOrgPerson)',
          userGroupAttribute: 'memberOf',
          subtreeSearch: true,
          credentialsFile: credentials,
        },
      },
      accessControl: {
        repositories: {
          '**': {
            policies: [
              { groups: ['devs'], actions: ['read', 'create'] },
              { groups: [`cn=ops,ou=groups,${slapd.baseDN}`], actions: ['read'] },
            ],
            defaultPolicy: [],
          },
        },
      },
    };
    reg = await startTestRegistry({ config: { http } });
    c = new Client(reg.url);
  });
  after(async () => {
    await reg?.stop();
    await slapd?.stop();
    await tmp?.cleanup();
  });

  test('directory users log in; their memberOf groups drive accessControl', async () => {
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', 'alice-ldap') })).status, 200);
    assert.equal((await c.req('POST', '/v2/x/blobs/uploads/', { headers: basic('alice', 'alice-ldap') })).status, 202, 'devs (short group name) may create');
    assert.ok([200, 404].includes((await c.req('GET', '/v2/x/tags/list', { headers: basic('deepbob', 'bob-ldap') })).status), 'ops (full DN) may read');
    assert.equal((await c.req('POST', '/v2/x/blobs/uploads/', { headers: basic('deepbob', 'bob-ldap') })).status, 403);
    assert.equal((await c.req('GET', '/v2/x/tags/list', { headers: basic('carol', 'carol-ldap') })).status, 403, 'no group, no defaultPolicy');
    assert.equal((await c.req('GET', '/v2/', { headers: basic('local', 'local-pw') })).status, 200, 'htpasswd next to LDAP');
  });

  test('wrong, empty and injected credentials are refused', async () => {
    for (const [u, p] of [['alice', 'wrong'], ['alice', ''], ['*', 'alice-ldap'], ['alice)(uid=*', 'alice-ldap'], ['nobody', 'x']] as const) {
      assert.equal((await c.req('GET', '/v2/', { headers: basic(u, p) })).status, 401, `${u}:${p}`);
    }
  });

  test('subtreeSearch off finds only direct children; StartTLS with caCert works; hot reload applies both', async () => {
    const ldap = (http.auth as { ldap: Record<string, unknown> }).ldap;
    const reload = (over: Record<string, unknown>) =>
      reg.registry.auth.reload(loadConfigObject({ distSpecVersion: '1.1.1', storage: { rootDirectory: reg.root }, http: { ...http, auth: { ...(http.auth as object), ldap: { ...ldap, ...over } } } }, '<test>').config.http);
    await reload({ subtreeSearch: false });
    assert.equal((await c.req('GET', '/v2/', { headers: basic('deepbob', 'bob-ldap') })).status, 401, 'deepbob is one level down');
    assert.equal((await c.req('GET', '/v2/', { headers: basic('alice', 'alice-ldap') })).status, 200);
    await reload({ insecure: false, startTLS: true, caCert: join(tmp.dir, 'certs', 'ca.pem'), address: 'localhost' });
    assert.equal((await c.req('GET', '/v2/', { headers: basic('deepbob', 'bob-ldap') })).status, 200, 'over StartTLS');
    // A CA that did not sign the server certificate: the TLS handshake fails, so does the login.
    const other = await makeCerts(join(tmp.dir, 'other-ca'), [], { caName: 'another CA' });
    await reload({ insecure: false, startTLS: true, caCert: other.ca, address: 'localhost' });
    assert.equal((await c.req('GET', '/v2/', { headers: basic('carol', 'carol-ldap') })).status, 401);
  });
});
