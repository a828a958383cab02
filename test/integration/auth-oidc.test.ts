/**
 * OpenID Connect login against a real provider (npm `oidc-provider`, run in this process
 * on loopback): /zot/auth/login → provider login and consent → /zot/auth/callback/oidc →
 * session cookie; groups from the ID token drive accessControl; API keys minted from the
 * session; logout revokes it; forged state and foreign redirect targets are refused.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import Provider from 'oidc-provider';
import { basic } from '../helpers/auth.ts';
import { Client } from '../helpers/client.ts';
import { freePort } from '../helpers/process.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';

/** A tiny browser: a cookie jar per origin and manual redirects. */
class Browser {
  private readonly jar = new Map<string, Map<string, string>>();

  async go(url: string, init: RequestInit = {}): Promise<Response> {
    const u = new URL(url);
    const cookies = [...(this.jar.get(u.host) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), ...(cookies ? { Cookie: cookies } : {}) } });
    for (const sc of res.headers.getSetCookie()) {
      const [pair] = sc.split(';');
      const eq = pair!.indexOf('=');
      const store = this.jar.get(u.host) ?? new Map<string, string>();
      const value = pair!.slice(eq + 1);
      if (value === '' || /max-age=0/i.test(sc) || /expires=Thu, 01 Jan 1970/i.test(sc)) store.delete(pair!.slice(0, eq));
      else store.set(pair!.slice(0, eq), value);
      this.jar.set(u.host, store);
    }
    return res;
  }

  cookie(host: string, name: string): string | undefined {
    return this.jar.get(host)?.get(name);
  }

  /** Follows redirects through the provider, answering its login and consent pages, until `stopAt`. */
  async loginThrough(start: string, stopAt: string, login: string): Promise<string> {
    let url = start;
    for (let i = 0; i < 20; i++) {
      if (url.startsWith(stopAt)) return url;
      const res = await this.go(url);
      const loc = res.headers.get('location');
      if (loc) {
        url = new URL(loc, url).toString();
        continue;
      }
      const html = await res.text();
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1] ?? (html.includes('name="login"') ? 'login' : 'consent');
      const body = new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any' } : { prompt });
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? new URL(url).pathname;
      const post = await this.go(new URL(action, url).toString(), { method: 'POST', body: body.toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      const next = post.headers.get('location');
      if (!next) throw new Error(`provider answered ${post.status} to ${prompt}: ${(await post.text()).slice(0, 300)}`);
      url = new URL(next, url).toString();
    }
    throw new Error('too many redirects');
  }
}

describe('OpenID Connect login', () => {
  let reg: TestRegistry;
  let issuer: string;
  let server: Server;
  let c: Client;

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    reg = await startTestRegistry({
      config: {
        http: {
          address: '127.0.0.1',
          port: '0',
          auth: { openid: { providers: { oidc: { issuer, clientid: 'skiff', clientsecret: 'skiff-secret', scopes: ['openid', 'email', 'groups'] } }, callbackAllowOrigins: ['https://ui.example.test'] } },
          accessControl: { repositories: { '**': { policies: [{ groups: ['oidc-devs'], actions: ['read', 'create'] }], defaultPolicy: ['read'] } } },
        },
      },
    });
    c = new Client(reg.url);
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'skiff',
          client_secret: 'skiff-secret',
          redirect_uris: [`${reg.url}/zot/auth/callback/oidc`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      scopes: ['openid', 'email', 'groups'],
      claims: { openid: ['sub'], email: ['email'], groups: ['groups'] },
      conformIdTokenClaims: false, // put email and groups in the ID token
      findAccount: (_ctx: unknown, id: string) => ({
        accountId: id,
        claims: () => ({ sub: id, email: `${id}@example.org`, groups: id === 'alice' ? ['oidc-devs'] : [] }),
      }),
      features: { devInteractions: { enabled: true } },
      cookies: { keys: ['oidc-test-cookie-key'] },
    } as unknown as ConstructorParameters<typeof Provider>[1]);
    server = provider.listen(port, '127.0.0.1') as unknown as Server;
  });
  after(async () => {
    await reg?.stop();
    await new Promise((r) => server?.close(r));
  });

  async function login(b: Browser, user: string, query = ''): Promise<Response> {
    const start = await b.go(`${reg.url}/zot/auth/login?provider=oidc${query}`);
    assert.equal(start.status, 302, await start.clone().text());
    const callback = await b.loginThrough(start.headers.get('location')!, `${reg.url}/zot/auth/callback/oidc`, user);
    return b.go(callback);
  }

  test('login sets a session; ID-token groups drive accessControl; logout revokes it', async () => {
    const b = new Browser();
    const done = await login(b, 'alice');
    assert.equal(done.status, 201, await done.clone().text());
    const host = new URL(reg.url).host;
    const session = b.cookie(host, 'session');
    assert.ok(session, 'session cookie set');
    assert.equal((await b.go(`${reg.url}/v2/`)).status, 200);
    assert.equal((await b.go(`${reg.url}/v2/o/blobs/uploads/`, { method: 'POST' })).status, 202, 'oidc-devs may create');
    // An API key from the browser session, used on the data path as alice@example.org.
    const made = await b.go(`${reg.url}/zot/auth/apikey`, { method: 'POST', body: JSON.stringify({ label: 'laptop' }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(made.status, 201);
    const { apiKey } = (await made.json()) as { apiKey: string };
    assert.equal((await c.req('POST', '/v2/o/blobs/uploads/', { headers: basic('alice@example.org', apiKey) })).status, 202, 'the key carries the groups');
    // Logout: the same cookie no longer works, even replayed.
    assert.equal((await b.go(`${reg.url}/zot/auth/logout`, { method: 'POST' })).status, 200);
    assert.equal((await c.req('GET', '/v2/', { headers: { Cookie: `session=${session}` } })).status, 401);
    // A forged cookie is refused.
    assert.equal((await c.req('GET', '/v2/', { headers: { Cookie: `session=${session!.replace(/^./, 'x')}` } })).status, 401);
  });

  test('a user without the group gets the default policy only', async () => {
    const b = new Browser();
    assert.equal((await login(b, 'bob')).status, 201);
    assert.equal((await b.go(`${reg.url}/v2/o/tags/list`)).status, 200, 'defaultPolicy: read');
    assert.equal((await b.go(`${reg.url}/v2/o/blobs/uploads/`, { method: 'POST' })).status, 403);
  });

  test('forged state, a missing state cookie and foreign callback_ui are refused', async () => {
    const b = new Browser();
    const start = await b.go(`${reg.url}/zot/auth/login?provider=oidc`);
    const callback = await b.loginThrough(start.headers.get('location')!, `${reg.url}/zot/auth/callback/oidc`, 'alice');
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged');
    assert.equal((await b.go(forged.toString())).status, 401);
    assert.equal((await new Browser().go(callback)).status, 401, 'no state cookie');
    assert.equal((await b.go(`${reg.url}/zot/auth/login?provider=oidc&callback_ui=https://evil.example.test/`)).status, 400);
    assert.equal((await b.go(`${reg.url}/zot/auth/login?provider=nope`)).status, 400);
    const ok = await login(new Browser(), 'alice', `&callback_ui=${encodeURIComponent('https://ui.example.test/home')}`);
    assert.equal(ok.status, 302);
    assert.equal(ok.headers.get('location'), 'https://ui.example.test/home');
  });
});
