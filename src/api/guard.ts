import type { Logger } from 'pino';
import { tokenGrantsCatalog, type Action, type AuthService, type AuthState, type Credentials, type Identity } from '../auth/index.ts';
import { RegistryError } from '../errors/index.ts';
import type { Handler, RequestContext } from '../http/types.ts';
import { looksLikeDigest } from '../oci/index.ts';
import type { Storage } from '../storage/index.ts';
import { repoOf } from './common.ts';

/**
 * What a route needs before its handler runs:
 * - `open`: nothing (health probes; rate limits do not apply either, so an orchestrator
 *   is never throttled into killing the process);
 * - `public`: rate limited but not authenticated (login, callback, logout);
 * - `authenticated`: past authentication (anonymous allowed where zot allows it);
 * - `repository`: an action on the route's `name`, derived from the method as zot does
 *   (GET/HEAD read, POST/PUT/PATCH create, DELETE delete), or by `action`.
 */
export type AccessRule =
  | { kind: 'open' }
  | { kind: 'public' }
  | { kind: 'authenticated' }
  | { kind: 'repository'; action?: (ctx: RequestContext, repo: string) => Action };

/** Per-request authorization questions handlers ask beyond their route's rule. */
export interface AccessView {
  /** May this request's caller do `action` on `repo`? (Always true with auth off, except detectManifestCollision.) */
  can(ctx: RequestContext, action: Action, repo: string): boolean;
  /** May it see `repo` in the catalog? */
  listable(ctx: RequestContext, repo: string): boolean;
}

export interface GuardDeps {
  auth: AuthService;
  storage: Storage;
  log: Logger;
  /** zot's audit log: authentication failures and denials go here too. */
  audit?: Logger;
}

const UI_CLIENT = 'zot-ui';

/**
 * Authentication and authorization for routes: rate limit → authenticate → authorize →
 * handler. The auth state is read once per request (hot reload swaps it between
 * requests); when it has nothing to enforce the handler is called straight away.
 */
export class Guard implements AccessView {
  constructor(private readonly deps: GuardDeps) {}

  /** `handler` behind `rule`. */
  wrap(handler: Handler, rule: AccessRule): Handler {
    const { auth } = this.deps;
    if (rule.kind === 'open') return handler;
    const guarded = async (ctx: RequestContext, s: AuthState) => {
      if (s.limiter && !s.limiter.allow(ctx.remoteAddress, ctx.method)) throw new RegistryError('TOOMANYREQUESTS');
      if (s.inactive || rule.kind === 'public') return handler(ctx);
      const identity = await this.authenticate(ctx, s, rule);
      if (rule.kind === 'repository') {
        const repo = repoOf(ctx);
        const action = rule.action ? rule.action(ctx, repo) : methodAction(ctx.method);
        if (!s.authorizer.can(identity, action, repo)) await this.deny(ctx, s, identity, action, repo);
      }
      return handler(ctx);
    };
    // Not async: with nothing configured, a request costs one property read and a call.
    return (ctx) => {
      const s = auth.current;
      return s.inactive && !s.limiter ? handler(ctx) : guarded(ctx, s);
    };
  }

  /** The caller's identity (undefined = anonymous and allowed); throws 401 otherwise. */
  async authenticate(ctx: RequestContext, s: AuthState, rule: AccessRule = { kind: 'authenticated' }): Promise<Identity | undefined> {
    const creds = credentialsOf(ctx, s);
    const r = await s.authenticate(creds);
    if (r.kind === 'ok') {
      ctx.identity = { name: r.identity.name, groups: s.authorizer.groupsOf(r.identity) };
      identities.set(ctx, r.identity);
      return r.identity;
    }
    const scope = rule.kind === 'repository' ? scopeFor(ctx) : undefined;
    if (r.kind === 'failed') {
      this.deps.audit?.warn({ reqId: ctx.id, client: ctx.remoteAddress, method: ctx.method, path: ctx.path, user: r.user, credential: creds.kind, reason: r.reason }, 'authentication failed');
      this.deps.log.debug({ reqId: ctx.id, user: r.user, reason: r.reason }, 'authentication failed');
      await delay(s.failDelayMs);
      throw unauthorized(ctx, s, scope, creds.kind === 'bearer' ? 'invalid_token' : undefined);
    }
    if (!s.anonymousAllowed) throw unauthorized(ctx, s, scope);
    return undefined;
  }

  private async deny(ctx: RequestContext, s: AuthState, identity: Identity | undefined, action: Action, repo: string): Promise<never> {
    this.deps.audit?.warn({ reqId: ctx.id, client: ctx.remoteAddress, method: ctx.method, path: ctx.path, user: identity?.name, action, repo }, 'access denied');
    await delay(s.failDelayMs);
    // A token lacking the scope, or an anonymous caller who could log in: ask for credentials.
    if (identity?.method === 'bearer') throw unauthorized(ctx, s, scopeFor(ctx), 'insufficient_scope');
    if (!identity && s.authenticating) throw unauthorized(ctx, s, scopeFor(ctx));
    // Same answer whether or not the repository exists: nothing is revealed.
    throw new RegistryError('DENIED', undefined, { detail: { action, name: repo } });
  }

  can(ctx: RequestContext, action: Action, repo: string): boolean {
    const s = this.deps.auth.current;
    if (s.inactive) return action !== 'detectManifestCollision';
    return s.authorizer.can(identities.get(ctx), action, repo);
  }

  listable(ctx: RequestContext, repo: string): boolean {
    const s = this.deps.auth.current;
    if (s.inactive) return true;
    const identity = identities.get(ctx);
    if (identity?.tokenAccess && tokenGrantsCatalog(identity)) {
      // registry:catalog:* lists every repository the rest of the policy allows.
      const { tokenAccess: _ignored, ...plain } = identity;
      return s.authorizer.can(plain, 'read', repo);
    }
    return s.authorizer.can(identity, 'read', repo);
  }

  /** The authenticated identity of a request, if any (for the /zot/auth handlers). */
  identityOf(ctx: RequestContext): Identity | undefined {
    return identities.get(ctx);
  }
}

/** Full identities (with token claims and key scopes) by request; ctx.identity holds the loggable part. */
const identities = new WeakMap<RequestContext, Identity>();

/** zot's method → action mapping for repository routes. */
export function methodAction(method: string): Action {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 'read';
    case 'DELETE':
      return 'delete';
    default:
      return 'create';
  }
}

/**
 * Manifest PUT: `update` when a tag being written already exists, else `create` (zot's
 * rule, including its exemption: `latest` is always a create, so it stays movable under
 * an immutable-tags policy). Pushing by digest only is a create.
 */
export function manifestPutAction(storage: Storage): (ctx: RequestContext, repo: string) => Action {
  return (ctx, repo) => {
    if (ctx.method !== 'PUT') return methodAction(ctx.method);
    const ref = ctx.params.reference ?? '';
    const tags = [...(looksLikeDigest(ref) ? [] : [ref]), ...ctx.query.getAll('tag')];
    const exists = tags.some((t) => t !== 'latest' && storage.manifests.get(repo, t) !== null);
    return exists ? 'update' : 'create';
  };
}

/** Decodes what the request presents: Authorization header, else session cookie, else client certificate. */
function credentialsOf(ctx: RequestContext, s: AuthState): Credentials {
  const h = ctx.headers.authorization;
  if (h !== undefined) {
    const sp = h.indexOf(' ');
    const scheme = (sp < 0 ? h : h.slice(0, sp)).toLowerCase();
    const value = sp < 0 ? '' : h.slice(sp + 1).trim();
    // Two Authorization headers arrive joined by ", "; neither scheme's value has a comma.
    if (value.includes(',')) return { kind: 'basic', user: '', password: '' };
    if (scheme === 'basic') {
      const text = Buffer.from(value, 'base64').toString('utf8');
      const colon = text.indexOf(':');
      return colon < 0 ? { kind: 'basic', user: text, password: '' } : { kind: 'basic', user: text.slice(0, colon), password: text.slice(colon + 1) };
    }
    if (scheme === 'bearer') return { kind: 'bearer', token: value };
    return { kind: 'basic', user: '', password: '' }; // an unknown scheme fails like a bad password
  }
  const cookie = ctx.headers.cookie;
  if (cookie !== undefined) {
    const session = cookieValue(cookie, 'session');
    if (session) return { kind: 'session', cookie: session };
  }
  if (ctx.peerCertificate && s.mtls) return { kind: 'certificate', cert: ctx.peerCertificate };
  return { kind: 'none' };
}

/** One cookie's value from a Cookie header. */
export function cookieValue(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** The token scope a repository request needs, for Bearer challenges. */
function scopeFor(ctx: RequestContext): string | undefined {
  const name = ctx.params.name;
  if (!name) return undefined;
  const action = methodAction(ctx.method);
  const verbs = action === 'read' ? 'pull' : action === 'delete' ? 'delete' : 'pull,push';
  return `repository:${name}:${verbs}`;
}

/** 401 with the challenge a client can answer (none for the zot UI, as zot does). */
function unauthorized(ctx: RequestContext, s: AuthState, scope: string | undefined, error?: 'invalid_token' | 'insufficient_scope'): RegistryError {
  const headers: Record<string, string> = {};
  if (ctx.headers['x-zot-api-client'] !== UI_CLIENT) {
    if (s.bearer) headers['WWW-Authenticate'] = s.bearer.challenge(scope, error);
    else if (s.basicEnabled || !s.authenticating) headers['WWW-Authenticate'] = `Basic realm=${JSON.stringify(s.realm)}`;
  }
  return new RegistryError('UNAUTHORIZED', undefined, { headers });
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
