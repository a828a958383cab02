/**
 * The pure rules under src/auth, checked directly: doublestar globs, zot's policy
 * precedence, client-certificate identity mapping, token buckets, signed sessions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Authorizer, globToRegExp, RateLimiter, SessionSigner, type Identity } from '../../src/auth/index.ts';
import { MtlsMapper } from '../../src/auth/mtls.ts';
import type { AccessControlConfig } from '../../src/config/index.ts';

describe('repository globs (doublestar)', () => {
  const cases: [string, string, boolean][] = [
    ['**', 'a/b/c', true],
    ['a/**', 'a', true],
    ['a/**', 'a/b/c', true],
    ['a/**', 'ab', false],
    ['a/*', 'a/b', true],
    ['a/*', 'a/b/c', false],
    ['**/b', 'b', true],
    ['**/b', 'x/y/b', true],
    ['**/b', 'xb', false],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/xb', false],
    ['{a,b}/x', 'b/x', true],
    ['r.x', 'rax', false],
    ['[ab]c', 'bc', true],
    ['a?c', 'a/c', false],
  ];
  for (const [glob, name, want] of cases) test(`${glob} ${want ? 'matches' : 'does not match'} ${name}`, () => assert.equal(globToRegExp(glob).test(name), want));
});

describe('authorizer', () => {
  const ac: AccessControlConfig = {
    groups: { ops: { users: ['olga'] } },
    repositories: {
      '**': { policies: [], defaultPolicy: ['read'], anonymousPolicy: [] },
      'infra/**': {
        policies: [
          { users: ['ivan'], groups: [], actions: ['read', 'create'], conditions: [] },
          { users: [], groups: ['ops'], actions: ['read', 'create', 'update', 'delete'], conditions: [] },
          { users: ['cond'], groups: [], actions: ['read'], conditions: [{ expression: 'true' }] },
        ],
        defaultPolicy: [],
        anonymousPolicy: [],
      },
      'infra/public/*': { policies: [], defaultPolicy: ['read'], anonymousPolicy: ['read'] },
    },
    adminPolicy: { users: ['root'], groups: ['admins'], actions: ['read', 'delete'], conditions: [] },
  };
  const a = new Authorizer(ac);
  const who = (name: string, groups: string[] = [], extra: Partial<Identity> = {}): Identity => ({ name, groups, method: 'htpasswd', ...extra });

  test('longest glob wins; defaultPolicy and anonymousPolicy apply within it only', () => {
    assert.equal(a.can(who('zed'), 'read', 'apps/x'), true);
    assert.equal(a.can(who('zed'), 'read', 'infra/x'), false, 'infra/** has no defaultPolicy: ** does not leak in');
    assert.equal(a.can(undefined, 'read', 'infra/public/web'), true);
    assert.equal(a.can(undefined, 'read', 'infra/public/web/deeper'), false, '* is one level');
    assert.equal(a.can(undefined, 'read', 'apps/x'), false);
    assert.equal(a.anonymousAllowed, true);
  });

  test('users, static groups, identity groups, admin; conditional policies never apply', () => {
    assert.equal(a.can(who('ivan'), 'create', 'infra/db'), true);
    assert.equal(a.can(who('ivan'), 'update', 'infra/db'), false);
    assert.equal(a.can(who('olga'), 'delete', 'infra/db'), true, 'static group ops');
    assert.equal(a.can(who('lena', ['ops']), 'update', 'infra/db'), true, 'group from the directory');
    assert.equal(a.can(who('root'), 'delete', 'infra/db'), true);
    assert.equal(a.can(who('root'), 'create', 'infra/db'), false, 'admin gets adminPolicy.actions only');
    assert.equal(a.can(who('amy', ['admins']), 'read', 'infra/db'), true);
    assert.equal(a.can(who('cond'), 'read', 'infra/db'), false, 'CEL conditions are not evaluated: fail closed');
  });

  test('API-key scopes and token claims narrow what the identity may do', () => {
    assert.equal(a.can(who('olga', [], { keyScopes: ['infra/db'] }), 'delete', 'infra/db'), true);
    assert.equal(a.can(who('olga', [], { keyScopes: ['infra/db'] }), 'delete', 'infra/other'), false);
    const open = new Authorizer(undefined);
    const tok = who('robot', [], { method: 'bearer', tokenAccess: [{ type: 'repository', name: 'x', actions: ['pull'] }] });
    assert.equal(open.can(tok, 'read', 'x'), true);
    assert.equal(open.can(tok, 'create', 'x'), false);
    assert.equal(open.can(tok, 'read', 'y'), false);
    assert.equal(open.can(who('u'), 'delete', 'x'), true, 'no accessControl: authenticated may do everything');
    assert.equal(open.can(who('u'), 'detectManifestCollision', 'x'), false);
    assert.equal(open.can(undefined, 'read', 'x'), false);
  });
});

describe('mTLS identity attributes', () => {
  const cert = {
    subject: { CN: 'ci-bot', O: 'acme' },
    subjectText: 'CN=ci-bot,O=acme',
    dnsNames: ['a.example', 'b.example'],
    emails: ['bot@example.org'],
    uris: ['https://example.org/x', 'spiffe://example.org/ns/ci/sa/builder'],
  };
  test('ordered attributes, SAN indexes and the URI pattern', () => {
    assert.equal(new MtlsMapper().identify(cert)?.name, 'ci-bot');
    assert.equal(new MtlsMapper({ identityAttributes: ['Subject'] }).identify(cert)?.name, 'CN=ci-bot,O=acme');
    assert.equal(new MtlsMapper({ identityAttributes: ['DNSName'], dnsSanIndex: 1 }).identify(cert)?.name, 'b.example');
    assert.equal(new MtlsMapper({ identityAttributes: ['Email', 'CommonName'] }).identify(cert)?.name, 'bot@example.org');
    assert.equal(new MtlsMapper({ identityAttributes: ['URI'], uriSanPattern: '^spiffe://example\\.org/ns/[^/]+/sa/([^/]+)$' }).identify(cert)?.name, 'builder');
    assert.equal(new MtlsMapper({ identityAttributes: ['URI', 'CommonName'], uriSanPattern: '^spiffe://other/(.*)$' }).identify(cert)?.name, 'ci-bot', 'falls through to the next attribute');
    assert.equal(new MtlsMapper({ identityAttributes: ['Email'] }).identify({ ...cert, emails: [] }), undefined);
  });
});

describe('rate limiter', () => {
  test('token buckets per client and per method', () => {
    const rl = new RateLimiter({ rate: 2, methods: [{ method: 'post', rate: 1 }] });
    assert.deepEqual([rl.allow('a', 'GET', 0), rl.allow('a', 'GET', 1), rl.allow('a', 'GET', 2)], [true, true, false]);
    assert.equal(rl.allow('b', 'GET', 2), true, 'another client has its own bucket');
    assert.equal(rl.allow('a', 'GET', 600), true, 'refilled after half a second at 2/s');
    assert.deepEqual([rl.allow('c', 'POST', 0), rl.allow('c', 'POST', 10)], [true, false]);
    assert.equal(rl.allow('c', 'GET', 10), true, 'a refused POST did not spend the global token');
  });
});

describe('session signer', () => {
  test('sign, verify, purpose separation, tampering, expiry, revocation', async () => {
    const s = await SessionSigner.create(undefined);
    const v = s.createSession({ name: 'alice', groups: ['g'], method: 'session' }, 1000);
    assert.deepEqual(s.verifySession(v, 2000), { name: 'alice', groups: ['g'], method: 'session' });
    assert.equal(s.open('login', v, 2000), undefined, 'a session is not a login state');
    assert.equal(s.verifySession(`${v.slice(0, -2)}xx`, 2000), undefined);
    assert.equal(s.verifySession(v, 1000 + 9 * 3600_000), undefined, 'expired');
    assert.equal(s.verifySession(v, 2000)?.name, 'alice');
    s.revoke(v, 3000);
    assert.equal(s.verifySession(v, 4000), undefined, 'revoked');
    const other = await SessionSigner.create(undefined);
    assert.equal(other.verifySession(s.createSession({ name: 'x', groups: [], method: 'session' })), undefined, 'another key');
  });
});
