/**
 * Upstream authentication: anonymous, HTTP basic (zot's `credentialsFile`), and the Docker
 * token flow (distribution "Token Authentication Specification"): a 401 carrying
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…` is answered by fetching a token
 * from the realm (with the basic credentials, when there are any) and retrying. Tokens are
 * cached per scope until shortly before they expire, so a pull costs one token request per
 * repository, not one per blob.
 */

/** A parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="x",service="y",scope="repository:a:pull,push"` (quoted commas kept). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/g;
  for (const p of m[2]!.matchAll(re)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

/** The token scope a registry asks for on `path` (pull-only: sync never writes upstream). */
export function scopeFor(path: string): string | undefined {
  if (/^\/v2\/_catalog/.test(path)) return 'registry:catalog:*';
  const m = /^\/v2\/(.+)\/(?:manifests|blobs|tags|referrers)\//.exec(path);
  return m ? `repository:${m[1]}:pull` : undefined;
}

/** Fetches a token document from a realm URL; supplied by the HTTP client (same TLS settings). */
export type TokenFetcher = (url: URL, headers: Record<string, string>) => Promise<{ status: number; json: () => Promise<unknown> }>;

interface Token {
  value: string;
  expires: number;
}

/** Authentication state of one upstream URL. */
export class UpstreamAuth {
  private bearer: { realm: string; service?: string } | undefined;
  private basic = false;
  private tokens = new Map<string, Token>();
  private pending = new Map<string, Promise<Token | undefined>>();
  /** Token requests made (tests and benchmarks read it). */
  tokenRequests = 0;

  constructor(private readonly creds: { username: string; password: string } | undefined, private readonly fetchToken: TokenFetcher) {}

  private basicHeader(): string | undefined {
    return this.creds ? `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}` : undefined;
  }

  /**
   * The Authorization header to send up front: a cached token for the scope, or basic
   * credentials once the upstream asked for them. Nothing before the first challenge.
   */
  async header(path: string): Promise<string | undefined> {
    if (this.basic) return this.basicHeader();
    if (!this.bearer) return undefined;
    const scope = scopeFor(path) ?? '';
    const cached = this.tokens.get(scope);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.value}`;
    const t = await this.token(scope, scope);
    return t ? `Bearer ${t.value}` : undefined;
  }

  /**
   * Handles a 401: learns the scheme and fetches what it needs. Returns true when the
   * request is worth retrying with new credentials.
   */
  async challenged(path: string, wwwAuthenticate: string | undefined): Promise<boolean> {
    const ch = wwwAuthenticate ? parseChallenge(wwwAuthenticate) : undefined;
    if (ch?.scheme === 'basic') {
      if (this.basic || !this.creds) return false;
      this.basic = true;
      return true;
    }
    if (ch?.scheme !== 'bearer' || !ch.params.realm) return false;
    this.bearer = { realm: ch.params.realm, ...(ch.params.service ? { service: ch.params.service } : {}) };
    const key = scopeFor(path) ?? '';
    this.tokens.delete(key);
    return (await this.token(key, ch.params.scope ?? key)) !== undefined;
  }

  /** One token request per scope at a time; concurrent callers share it. */
  private token(key: string, scope: string): Promise<Token | undefined> {
    const running = this.pending.get(key);
    if (running) return running;
    const p = this.requestToken(scope)
      .then((t) => {
        if (t) this.tokens.set(key, t);
        return t;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }

  private async requestToken(scope: string): Promise<Token | undefined> {
    const b = this.bearer!;
    const url = new URL(b.realm);
    if (b.service) url.searchParams.set('service', b.service);
    if (scope) url.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    const basic = this.basicHeader();
    if (basic) headers.authorization = basic;
    this.tokenRequests++;
    const res = await this.fetchToken(url, headers);
    if (res.status !== 200) return undefined;
    const doc = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
    const value = doc.token ?? doc.access_token;
    if (!value) return undefined;
    // The spec's default lifetime is 60 s; renew 10% early so a token never expires in flight.
    const life = (typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60) * 1000;
    return { value, expires: Date.now() + life * 0.9 };
  }
}
