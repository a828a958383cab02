import { AuthInputError, LOGIN_STATE_COOKIE, SESSION_COOKIE, SESSION_TTL_MS, type AuthService, type AuthState, type LoginState } from '../auth/index.ts';
import { RegistryError } from '../errors/index.ts';
import type { Handler, Reply, RequestContext, Route } from '../http/types.ts';
import { json, readSmallBody } from './common.ts';
import { cookieValue, type Guard } from './guard.ts';

/** zot caps the API-key request body at 8 KiB. */
const MAX_APIKEY_BODY = 8 * 1024;
const LOGIN_STATE_TTL_MS = 10 * 60_000;

/**
 * zot's `/zot/auth/*` endpoints: API keys (create, list, revoke) for an authenticated
 * user, and the OpenID Connect login, callback and logout that issue the session cookie.
 */
export function authRoutes(auth: AuthService, guard: Guard): Route[] {
  return [
    { name: 'auth-apikey', methods: ['GET', 'POST', 'DELETE'], pattern: /^\/zot\/auth\/apikey$/, handler: guard.wrap(apiKeyHandler(auth, guard), { kind: 'authenticated' }) },
    { name: 'auth-login', methods: ['GET'], pattern: /^\/zot\/auth\/login$/, handler: guard.wrap(loginHandler(auth), { kind: 'public' }) },
    { name: 'auth-callback', methods: ['GET'], pattern: /^\/zot\/auth\/callback\/(?<provider>[A-Za-z0-9_-]+)$/, handler: guard.wrap(callbackHandler(auth), { kind: 'public' }) },
    { name: 'auth-logout', methods: ['POST'], pattern: /^\/zot\/auth\/logout$/, handler: guard.wrap(logoutHandler(auth), { kind: 'public' }) },
  ];
}

function apiKeyHandler(auth: AuthService, guard: Guard): Handler {
  return async (ctx) => {
    const s = auth.current;
    if (!s.apiKeys) throw new RegistryError('NOT_FOUND');
    const identity = guard.identityOf(ctx);
    if (!identity) throw new RegistryError('UNAUTHORIZED', undefined, { headers: { 'WWW-Authenticate': `Basic realm=${JSON.stringify(s.realm)}` } });
    switch (ctx.method) {
      case 'GET':
        return json(200, { apiKeys: s.apiKeys.list(identity.name) });
      case 'POST': {
        // A key must not mint keys: a leaked key could otherwise outlive its own expiry.
        if (identity.method === 'apikey') throw new RegistryError('DENIED', 'an API key cannot create API keys');
        let body: unknown;
        try {
          body = JSON.parse((await readSmallBody(ctx, MAX_APIKEY_BODY)).toString('utf8'));
        } catch (err) {
          if (err instanceof RegistryError && err.status === 413) throw err;
          throw new RegistryError('UNSUPPORTED', 'the body must be JSON {label, scopes, expirationDate}', { status: 400 });
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RegistryError('UNSUPPORTED', 'the body must be a JSON object', { status: 400 });
        try {
          const created = await s.apiKeys.create({ ...identity, groups: s.authorizer.groupsOf(identity) }, body, ctx.headers['user-agent'] ?? '');
          return json(201, created, { 'Cache-Control': 'no-store' });
        } catch (err) {
          if (err instanceof AuthInputError) throw new RegistryError('UNSUPPORTED', err.message, { status: 400 });
          throw err;
        }
      }
      case 'DELETE': {
        const ids = ctx.query.getAll('id');
        if (ids.length !== 1 || !ids[0]) throw new RegistryError('UNSUPPORTED', 'exactly one id query parameter is required', { status: 400 });
        if (!(await s.apiKeys.revoke(identity.name, ids[0]))) throw new RegistryError('NOT_FOUND', 'no such API key');
        return { status: 200, headers: { 'Content-Length': 0 } };
      }
      default:
        throw new RegistryError('METHOD_NOT_ALLOWED');
    }
  };
}

/** `GET /zot/auth/login?provider=&callback_ui=`: redirect to the provider. */
function loginHandler(auth: AuthService): Handler {
  return async (ctx) => {
    const s = auth.current;
    const name = ctx.query.get('provider') ?? '';
    const provider = s.oidc.get(name);
    if (!provider) throw new RegistryError('UNSUPPORTED', `unknown login provider "${name.slice(0, 40)}"`, { status: 400 });
    const callbackUi = ctx.query.get('callback_ui') ?? undefined;
    if (callbackUi !== undefined && !callbackAllowed(s, ctx, callbackUi)) throw new RegistryError('UNSUPPORTED', 'callback_ui is not an allowed origin', { status: 400 });
    const { url, state } = await provider.begin(redirectUri(s, ctx, name), callbackUi);
    const cookie = s.sessions.sign('login', { ...state }, LOGIN_STATE_TTL_MS);
    return {
      status: 302,
      headers: { Location: url, 'Set-Cookie': setCookie(s, LOGIN_STATE_COOKIE, cookie, LOGIN_STATE_TTL_MS, '/zot/auth'), 'Cache-Control': 'no-store', 'Content-Length': 0 },
    };
  };
}

/** `GET /zot/auth/callback/<provider>?code=&state=`: finish the login, set the session. */
function callbackHandler(auth: AuthService): Handler {
  return async (ctx) => {
    const s = auth.current;
    const name = ctx.params.provider ?? '';
    const provider = s.oidc.get(name);
    if (!provider) throw new RegistryError('NOT_FOUND');
    const raw = cookieValue(ctx.headers.cookie ?? '', LOGIN_STATE_COOKIE);
    const saved = raw ? (s.sessions.open('login', raw) as unknown as LoginState | undefined) : undefined;
    if (!saved || saved.provider !== name) throw new RegistryError('UNAUTHORIZED', 'login state missing or expired; start again at /zot/auth/login');
    let identity;
    try {
      identity = await provider.finish(ctx.query.get('code') ?? '', ctx.query.get('state') ?? '', saved, redirectUri(s, ctx, name));
    } catch (err) {
      ctx.identity = undefined;
      throw new RegistryError('UNAUTHORIZED', `login failed: ${(err as Error).message}`);
    }
    ctx.identity = { name: identity.name, groups: identity.groups };
    const cookies = [setCookie(s, SESSION_COOKIE, s.sessions.createSession(identity), SESSION_TTL_MS, '/'), setCookie(s, LOGIN_STATE_COOKIE, '', 0, '/zot/auth')];
    const reply: Reply = saved.callbackUi
      ? { status: 302, headers: { Location: saved.callbackUi, 'Set-Cookie': cookies, 'Content-Length': 0 } }
      : { status: 201, headers: { 'Set-Cookie': cookies, 'Content-Length': 0 } };
    return reply;
  };
}

/** `POST /zot/auth/logout`: revoke the session and clear the cookie. */
function logoutHandler(auth: AuthService): Handler {
  return (ctx) => {
    const s = auth.current;
    const value = cookieValue(ctx.headers.cookie ?? '', SESSION_COOKIE);
    if (value) s.sessions.revoke(value);
    return { status: 200, headers: { 'Set-Cookie': setCookie(s, SESSION_COOKIE, '', 0, '/'), 'Content-Length': 0 } };
  };
}

function setCookie(s: AuthState, name: string, value: string, maxAgeMs: number, path: string): string {
  return `${name}=${encodeURIComponent(value)}; Path=${path}; Max-Age=${Math.floor(maxAgeMs / 1000)}; HttpOnly; SameSite=Lax${s.secureCookies ? '; Secure' : ''}`;
}

/** The public base of this registry: `http.externalUrl`, else the request's own origin. */
function origin(s: AuthState, ctx: RequestContext): string {
  if (s.externalUrl) return s.externalUrl.replace(/\/$/, '');
  return `${ctx.secure ? 'https' : 'http'}://${ctx.headers.host ?? 'localhost'}`;
}

function redirectUri(s: AuthState, ctx: RequestContext, provider: string): string {
  return `${origin(s, ctx)}/zot/auth/callback/${provider}`;
}

/** zot: `callback_ui` must be same-origin (a path) or in `callbackAllowOrigins`. */
function callbackAllowed(s: AuthState, ctx: RequestContext, target: string): boolean {
  if (target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\')) return true;
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return false;
  }
  return u.origin === origin(s, ctx) || s.callbackAllowOrigins.some((o) => o.replace(/\/$/, '') === u.origin);
}
