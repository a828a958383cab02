import type { Logger } from 'pino';
import type { HttpConfig } from '../config/types.ts';
import { ApiKeys, API_KEY_PREFIX, type ApiKeyStore } from './apikeys.ts';
import { Authorizer } from './authorizer.ts';
import type { BearerVerifier } from './bearer.ts';
import { CredentialCache } from './credential-cache.ts';
import type { HtpasswdFile } from './htpasswd.ts';
import type { LdapAuthenticator } from './ldap.ts';
import { MtlsMapper } from './mtls.ts';
import type { OidcProvider } from './oidc.ts';
import { RateLimiter } from './ratelimit.ts';
import { SessionSigner } from './session.ts';
import type { AuthResult, Credentials, Identity } from './types.ts';

/** What survives a reload: the key store, the session signer (unless its key file changes). */
export interface AuthServiceDeps {
  log: Logger;
  /** Where API keys live; required when `http.auth.apikey` (or openid) is on. */
  apiKeyStore?: ApiKeyStore;
}

/**
 * One immutable view of `http.auth` + `http.accessControl` + `http.ratelimit`: the
 * authenticators, the authorizer and the limiter built from one config. A reload builds
 * a new one and swaps it in; requests in flight finish with the one they started with.
 */
export class AuthState {
  /** Some authentication method is configured (credentials are asked for). */
  readonly authenticating: boolean;
  readonly authorizer: Authorizer;
  /** True when the guard has nothing to do (no auth, no accessControl, no client certificates). */
  readonly inactive: boolean;
  /** Seconds of zot's `failDelay`, in ms. */
  readonly failDelayMs: number;
  readonly realm: string;
  readonly htpasswd: HtpasswdFile | undefined;
  readonly ldap: LdapAuthenticator | undefined;
  readonly bearer: BearerVerifier | undefined;
  readonly apiKeys: ApiKeys | undefined;
  readonly oidc: ReadonlyMap<string, OidcProvider>;
  readonly sessions: SessionSigner;
  readonly mtls: MtlsMapper | undefined;
  readonly limiter: RateLimiter | undefined;
  /** `http.externalUrl`, for OpenID redirect URIs behind a proxy. */
  readonly externalUrl: string | undefined;
  readonly secureCookies: boolean;
  readonly callbackAllowOrigins: readonly string[];

  constructor(
    readonly http: HttpConfig,
    parts: {
      htpasswd?: HtpasswdFile;
      ldap?: LdapAuthenticator;
      bearer?: BearerVerifier;
      apiKeys?: ApiKeys;
      oidc: Map<string, OidcProvider>;
      sessions: SessionSigner;
    },
    private readonly cache: CredentialCache,
    private readonly log: Logger,
  ) {
    const auth = http.auth;
    this.htpasswd = parts.htpasswd;
    this.ldap = parts.ldap;
    this.bearer = parts.bearer;
    this.apiKeys = parts.apiKeys;
    this.oidc = parts.oidc;
    this.sessions = parts.sessions;
    // Client certificates are only requested when a CA is configured (http.tls.cacert).
    this.mtls = http.tls?.cacert ? new MtlsMapper(auth?.mtls) : undefined;
    this.authenticating = Boolean(this.htpasswd || this.ldap || this.bearer || this.apiKeys || this.oidc.size > 0 || this.mtls);
    this.authorizer = new Authorizer(http.accessControl);
    this.limiter = http.ratelimit ? new RateLimiter(http.ratelimit) : undefined;
    this.inactive = !this.authenticating && !http.accessControl;
    this.failDelayMs = Math.max(0, (auth?.failDelay ?? 0) * 1000);
    this.realm = http.realm || 'Authorization Required';
    this.externalUrl = http.externalUrl;
    this.secureCookies = Boolean(http.tls) || auth?.secureSession === true;
    this.callbackAllowOrigins = auth?.openid?.callbackAllowOrigins ?? [];
  }

  /** Whether Basic credentials can succeed at all (htpasswd, LDAP or API keys). */
  get basicEnabled(): boolean {
    return Boolean(this.htpasswd || this.ldap || this.apiKeys);
  }

  /** Whether anonymous requests get past authentication (zot: when some anonymousPolicy exists, or nobody authenticates). */
  get anonymousAllowed(): boolean {
    return !this.authenticating || this.authorizer.anonymousAllowed;
  }

  /** Checks presented credentials. Never throws for bad credentials: those are `failed`. */
  async authenticate(creds: Credentials): Promise<AuthResult> {
    switch (creds.kind) {
      case 'none':
        return { kind: 'anonymous' };
      case 'basic':
        return this.basic(creds.user, creds.password);
      case 'bearer': {
        if (!this.bearer) return { kind: 'failed', reason: 'bearer tokens are not enabled' };
        try {
          return { kind: 'ok', identity: await this.bearer.verify(creds.token) };
        } catch (err) {
          return { kind: 'failed', reason: (err as Error).message };
        }
      }
      case 'session': {
        const identity = this.sessions.verifySession(creds.cookie);
        return identity ? { kind: 'ok', identity } : { kind: 'failed', reason: 'session invalid or expired' };
      }
      case 'certificate': {
        if (!this.mtls) return { kind: 'anonymous' };
        const identity = this.mtls.identify(creds.cert);
        return identity ? { kind: 'ok', identity } : { kind: 'failed', reason: 'no identity attribute in the client certificate' };
      }
    }
  }

  private async basic(user: string, password: string): Promise<AuthResult> {
    if (this.apiKeys && password.startsWith(API_KEY_PREFIX)) {
      const identity = this.apiKeys.verify(user, password);
      return identity ? { kind: 'ok', identity } : { kind: 'failed', reason: 'API key unknown, expired or not the user\'s', user };
    }
    if (!this.htpasswd && !this.ldap) return { kind: 'failed', reason: 'password authentication is not enabled', user };
    const cached = this.cache.get(user, password);
    if (cached) return { kind: 'ok', identity: cached };
    let identity: Identity | undefined;
    if (this.htpasswd && (await this.htpasswd.verify(user, password))) {
      identity = { name: user, groups: [], method: 'htpasswd' };
    } else if (this.ldap && !this.htpasswd?.has(user)) {
      // zot tries htpasswd, then LDAP; a user defined locally is never looked up remotely.
      try {
        const found = await this.ldap.authenticate(user, password);
        if (found) identity = { name: user, groups: found.groups, method: 'ldap' };
      } catch (err) {
        this.log.error({ user, err: (err as Error).message }, 'LDAP authentication error');
        return { kind: 'failed', reason: 'LDAP unavailable', user };
      }
    }
    if (!identity) return { kind: 'failed', reason: 'wrong user or password', user };
    this.cache.set(user, password, identity);
    return { kind: 'ok', identity };
  }

  close(): void {
    this.htpasswd?.close();
  }
}

/**
 * Builds and rebuilds AuthState from config, and keeps what must outlive a reload: the
 * credential cache (cleared on every change), the session signer (kept while its key file
 * is unchanged, so logins and logouts survive), the API-key store.
 */
export class AuthService {
  private state!: AuthState;
  private readonly cache = new CredentialCache();
  private sessions: { file: string | undefined; signer: SessionSigner } | undefined;
  private apiKeysLoaded = false;

  private constructor(private readonly deps: AuthServiceDeps) {}

  static async create(http: HttpConfig, deps: AuthServiceDeps): Promise<AuthService> {
    const s = new AuthService(deps);
    s.state = await s.build(http);
    return s;
  }

  /** The state requests use now. */
  get current(): AuthState {
    return this.state;
  }

  /** Rebuilds from a new config; on failure the old state stays and the error is thrown. */
  async reload(http: HttpConfig): Promise<void> {
    const next = await this.build(http);
    const old = this.state;
    this.state = next;
    this.cache.clear();
    old.close();
  }

  private async build(http: HttpConfig): Promise<AuthState> {
    const { log } = this.deps;
    const auth = http.auth;
    const alog = log.child({ module: 'auth' });
    for (const [glob, pg] of Object.entries(http.accessControl?.repositories ?? {})) {
      if (pg.policies.some((p) => p.conditions.length > 0)) {
        alog.warn({ repositories: glob }, 'accessControl policy conditions (CEL) are not supported: policies with conditions are never applied');
      }
    }
    // Back ends load on first use (bcryptjs, ldapts, jose): a device without auth never
    // compiles them, which is a fifth of the bundle and part of every cold start.
    const htpasswd = auth?.htpasswd ? await (await import('./htpasswd.ts')).HtpasswdFile.open(auth.htpasswd.path, alog, () => this.cache.clear()) : undefined;
    try {
      const ldap = auth?.ldap ? await (await import('./ldap.ts')).LdapAuthenticator.create(auth.ldap, alog) : undefined;
      const bearer = auth?.bearer ? await (await import('./bearer.ts')).BearerVerifier.create(auth.bearer) : undefined;
      const oidc = new Map<string, OidcProvider>();
      for (const [name, p] of Object.entries(auth?.openid?.providers ?? {})) {
        if (name === 'github') {
          // Reported as unsupported by the config loader too; the other providers still work.
          alog.warn({ provider: name }, 'openid provider "github" (OAuth2 without OpenID Connect) is not supported; its login is off');
          continue;
        }
        oidc.set(name, await (await import('./oidc.ts')).OidcProvider.create(name, p));
      }
      let apiKeys: ApiKeys | undefined;
      if (auth?.apikey) {
        if (!this.deps.apiKeyStore) throw new Error('http.auth.apikey needs a key store');
        if (!this.apiKeysLoaded) {
          await this.deps.apiKeyStore.load();
          this.apiKeysLoaded = true;
        }
        apiKeys = new ApiKeys(this.deps.apiKeyStore);
      }
      if (!this.sessions || this.sessions.file !== auth?.sessionKeysFile) {
        this.sessions = { file: auth?.sessionKeysFile, signer: await SessionSigner.create(auth?.sessionKeysFile) };
      }
      const parts = {
        oidc,
        sessions: this.sessions.signer,
        ...(htpasswd ? { htpasswd } : {}),
        ...(ldap ? { ldap } : {}),
        ...(bearer ? { bearer } : {}),
        ...(apiKeys ? { apiKeys } : {}),
      };
      return new AuthState(http, parts, this.cache, alog);
    } catch (err) {
      htpasswd?.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.state.close();
    await this.deps.apiKeyStore?.close();
  }
}
