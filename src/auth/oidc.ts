import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { OpenIdProviderConfig } from '../config/types.ts';
import { readTextFile } from '../platform/watched-files.ts';
import type { Identity } from './types.ts';

/** Issuers of the OpenID providers zot knows by name, used when `issuer` is not set. */
const KNOWN_ISSUERS: Record<string, string> = { google: 'https://accounts.google.com', gitlab: 'https://gitlab.com' };

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
}

/** What the login step must remember until the callback (kept in a signed cookie). */
export interface LoginState {
  state: string;
  nonce: string;
  verifier: string;
  provider: string;
  callbackUi?: string;
}

/**
 * An OpenID Connect relying party for one provider (zot `http.auth.openid.providers`):
 * authorization-code flow with PKCE (S256), `state` and `nonce`; the ID token is verified
 * against the provider's JWKS (issuer, audience = client id, expiry, nonce). The user name
 * comes from `claimMapping.username` (default `email`, as zot), groups from
 * `claimMapping.groups` (default `groups`), from the ID token or else the userinfo endpoint.
 */
export class OidcProvider {
  private discovery: Promise<Discovery> | undefined;
  private jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  private constructor(
    readonly name: string,
    private readonly issuer: string,
    private readonly clientId: string,
    private readonly clientSecret: string,
    private readonly scopes: string[],
    private readonly claims: { username: string; groups: string },
  ) {}

  static async create(name: string, cfg: OpenIdProviderConfig): Promise<OidcProvider> {
    if (name === 'github') throw new Error('openid provider "github" (OAuth2 without OpenID Connect) is not supported; use an OpenID Connect provider');
    let clientId = cfg.clientid ?? '';
    let clientSecret = cfg.clientsecret ?? '';
    if (cfg.credentialsFile) {
      const doc = JSON.parse(await readTextFile(cfg.credentialsFile, 'openid credentials file')) as { clientid?: string; clientsecret?: string };
      clientId = doc.clientid ?? clientId;
      clientSecret = doc.clientsecret ?? clientSecret;
    }
    const issuer = cfg.issuer ?? KNOWN_ISSUERS[name];
    if (!issuer) throw new Error(`openid provider "${name}" needs an issuer`);
    if (!clientId) throw new Error(`openid provider "${name}" needs a clientid`);
    const scopes = [...new Set(['openid', ...(cfg.scopes ?? ['profile', 'email'])])];
    return new OidcProvider(name, issuer.replace(/\/$/, ''), clientId, clientSecret, scopes, {
      username: cfg.claimMapping?.username || 'email',
      groups: cfg.claimMapping?.groups || 'groups',
    });
  }

  private discover(): Promise<Discovery> {
    this.discovery ??= (async () => {
      const res = await fetch(`${this.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`OpenID discovery at ${this.issuer} answered ${res.status}`);
      const d = (await res.json()) as Discovery;
      if (d.issuer.replace(/\/$/, '') !== this.issuer) throw new Error(`OpenID discovery issuer ${d.issuer} differs from the configured ${this.issuer}`);
      this.jwks = createRemoteJWKSet(new URL(d.jwks_uri));
      return d;
    })();
    // A failed discovery (provider down) is retried at the next login.
    this.discovery.catch(() => (this.discovery = undefined));
    return this.discovery;
  }

  /** The provider URL to send the browser to, and the state to keep until the callback. */
  async begin(redirectUri: string, callbackUi: string | undefined): Promise<{ url: string; state: LoginState }> {
    const d = await this.discover();
    const state: LoginState = { state: rand(), nonce: rand(), verifier: rand(), provider: this.name, ...(callbackUi ? { callbackUi } : {}) };
    const url = new URL(d.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: this.clientId,
      redirect_uri: redirectUri,
      scope: this.scopes.join(' '),
      state: state.state,
      nonce: state.nonce,
      code_challenge: createHash('sha256').update(state.verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return { url: url.toString(), state };
  }

  /** Exchanges the code and returns the logged-in identity; throws with a reason for logs. */
  async finish(code: string, returnedState: string, saved: LoginState, redirectUri: string): Promise<Identity> {
    if (!returnedState || returnedState !== saved.state) throw new Error('login state mismatch');
    const d = await this.discover();
    const res = await fetch(d.token_endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${encodeURIComponent(this.clientId)}:${encodeURIComponent(this.clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: saved.verifier }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    const tokens = (await res.json().catch(() => ({}))) as { id_token?: string; access_token?: string; error?: string; error_description?: string };
    if (!res.ok || !tokens.id_token) throw new Error(`token exchange failed (${res.status} ${tokens.error ?? ''}: ${tokens.error_description ?? ''})`);
    const { payload } = await jwtVerify(tokens.id_token, this.jwks!, { issuer: d.issuer, audience: this.clientId, clockTolerance: 5 });
    if (payload.nonce !== saved.nonce) throw new Error('ID token nonce mismatch');
    let claims: JWTPayload = payload;
    if ((claims[this.claims.username] === undefined || claims[this.claims.groups] === undefined) && d.userinfo_endpoint && tokens.access_token) {
      const ui = await fetch(d.userinfo_endpoint, { headers: { Authorization: `Bearer ${tokens.access_token}` }, signal: AbortSignal.timeout(10_000) });
      if (ui.ok) {
        const info = (await ui.json()) as JWTPayload;
        if (info.sub === payload.sub) claims = { ...info, ...payload };
      }
    }
    const name = claims[this.claims.username];
    if (typeof name !== 'string' || name === '') throw new Error(`ID token has no "${this.claims.username}" claim`);
    const rawGroups = claims[this.claims.groups];
    const groups = Array.isArray(rawGroups) ? rawGroups.filter((g): g is string => typeof g === 'string') : typeof rawGroups === 'string' ? [rawGroups] : [];
    return { name, groups, method: 'session' };
  }
}

function rand(): string {
  return randomBytes(32).toString('base64url'); // 43 characters: RFC 7636 §4.1 minimum for a PKCE verifier
}
