import { DEFAULTS } from './defaults.ts';
import { bool, issue, list, num, pick, section, str, strs, type NormalizeContext, type Tree } from './tree.ts';
import type { AccessControlConfig, AccessPolicy, AuthConfig, CompatMode, HttpConfig, PolicyGroup, RatelimitConfig } from './types.ts';

/** The `http` section with defaults applied and structural checks done (file checks are in verify). */
export function normalizeHttp(t: Tree | undefined, ctx: NormalizeContext): HttpConfig {
  const address = str(t, 'address', DEFAULTS.http.address);
  if (address.trim() === '') issue(ctx, 'http.address', 'must not be empty');
  const http: HttpConfig = {
    address,
    port: num(t, 'port', DEFAULTS.http.port),
    realm: str(t, 'realm', DEFAULTS.http.realm),
    compat: strs(t, 'compat') as CompatMode[],
  };
  const externalUrl = str(t, 'externalUrl');
  const allowOrigin = str(t, 'allowOrigin');
  const readTimeout = num(t, 'readTimeout');
  const writeTimeout = num(t, 'writeTimeout');
  if (externalUrl !== undefined) http.externalUrl = externalUrl;
  if (allowOrigin !== undefined) http.allowOrigin = allowOrigin;
  // zot applies 60s to both when unset; skiff leaves them unset until it implements them, because
  // a whole-request read timeout must be weighed against large blob uploads on slow links.
  if (readTimeout !== undefined) http.readTimeout = readTimeout;
  if (writeTimeout !== undefined) http.writeTimeout = writeTimeout;

  const tls = section(t, 'tls');
  if (tls !== undefined) {
    const cert = str(tls, 'cert', '');
    const key = str(tls, 'key', '');
    if (cert === '') issue(ctx, 'http.tls.cert', 'required when http.tls is set (both cert and key are needed)');
    if (key === '') issue(ctx, 'http.tls.key', 'required when http.tls is set (both cert and key are needed)');
    http.tls = { cert, key };
    const cacert = str(tls, 'cacert');
    if (cacert !== undefined && cacert !== '') http.tls.cacert = cacert;
  }

  const auth = section(t, 'auth');
  if (auth !== undefined) http.auth = normalizeAuth(auth);
  const ac = section(t, 'accessControl');
  if (ac !== undefined) http.accessControl = normalizeAccessControl(ac);
  const rl = section(t, 'ratelimit');
  if (rl !== undefined) {
    const ratelimit: RatelimitConfig = { methods: list(rl, 'methods').map((m) => pick<RatelimitConfig['methods'][number]>(m) ?? {}) };
    const rate = num(rl, 'rate');
    if (rate !== undefined) ratelimit.rate = rate;
    http.ratelimit = ratelimit;
  }
  return http;
}

function normalizeAuth(t: Tree): AuthConfig {
  const auth: AuthConfig = {
    failDelay: num(t, 'failDelay', 0),
    // zot: turning on OpenID also turns on API keys, so logged-in users can use the data path.
    apikey: bool(t, 'apikey', false) || section(t, 'openid') !== undefined,
  };
  const htpasswd = str(section(t, 'htpasswd'), 'path');
  if (htpasswd !== undefined && htpasswd !== '') auth.htpasswd = { path: htpasswd };
  const ldap = pick<AuthConfig['ldap']>(section(t, 'ldap'));
  if (ldap !== undefined) auth.ldap = ldap;
  const bearer = pick<AuthConfig['bearer']>(section(t, 'bearer'));
  if (bearer !== undefined) auth.bearer = bearer;
  const openid = section(t, 'openid');
  if (openid !== undefined) {
    auth.openid = { providers: pick<Record<string, object>>(section(openid, 'providers')) ?? {} };
    if (openid.callbackAllowOrigins !== undefined) auth.openid.callbackAllowOrigins = strs(openid, 'callbackAllowOrigins');
  }
  const sessionKeysFile = str(t, 'sessionKeysFile');
  if (sessionKeysFile !== undefined) auth.sessionKeysFile = sessionKeysFile;
  const sessionDriver = pick<Record<string, unknown>>(section(t, 'sessionDriver'));
  if (sessionDriver !== undefined) auth.sessionDriver = sessionDriver;
  if (typeof t.secureSession === 'boolean') auth.secureSession = t.secureSession;
  const mtls = pick<AuthConfig['mtls']>(section(t, 'mtls'));
  if (mtls !== undefined) auth.mtls = mtls;
  return auth;
}

function policy(t: Tree): AccessPolicy {
  return {
    users: strs(t, 'users'),
    groups: strs(t, 'groups'),
    actions: strs(t, 'actions'),
    conditions: list(t, 'conditions').map((c) => pick<AccessPolicy['conditions'][number]>(c) ?? {}),
  };
}

function normalizeAccessControl(t: Tree): AccessControlConfig {
  const repositories: Record<string, PolicyGroup> = {};
  for (const [glob, g] of Object.entries(section(t, 'repositories') ?? {})) {
    const group = g as Tree;
    repositories[glob] = {
      policies: list(group, 'policies').map(policy),
      defaultPolicy: strs(group, 'defaultPolicy'),
      anonymousPolicy: strs(group, 'anonymousPolicy'),
    };
  }
  const groups: Record<string, { users: string[] }> = {};
  for (const [name, g] of Object.entries(section(t, 'groups') ?? {})) groups[name] = { users: strs(g as Tree, 'users') };
  const ac: AccessControlConfig = { repositories, groups };
  const admin = section(t, 'adminPolicy');
  if (admin !== undefined) ac.adminPolicy = policy(admin);
  const metrics = pick<AccessControlConfig['metrics']>(section(t, 'metrics'));
  if (metrics !== undefined) ac.metrics = metrics;
  return ac;
}
