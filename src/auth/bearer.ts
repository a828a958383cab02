import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { BearerConfig } from '../config/types.ts';
import { readTextFile } from '../platform/watched-files.ts';
import type { Identity, TokenAccess } from './types.ts';

/**
 * Docker token authentication (distribution "Token Authentication Specification" and its
 * JWT profile): the registry answers 401 with a `Bearer realm,service,scope` challenge, the
 * client fetches a JWT from the realm, and the registry verifies it with the public key of
 * `bearer.cert` (a certificate or a bare public key, as zot accepts). The token's `access`
 * claims are the authority for what it may do.
 *
 * Checks: signature with an algorithm that fits the key (RS/PS for RSA, ES for EC, EdDSA);
 * `exp` required and in the future, `nbf` reached (5 s clock skew allowed); `aud` must
 * contain `service` when a service is configured; `iss` must be present. zot itself does
 * not check `aud` or `iss`; skiff does, because a token minted for another service must
 * not open this registry.
 */
export class BearerVerifier {
  private readonly cache = new Map<string, { identity: Identity; until: number }>();

  private constructor(
    private readonly key: KeyObject,
    private readonly algorithms: string[],
    readonly realm: string,
    readonly service: string,
  ) {}

  static async create(cfg: BearerConfig): Promise<BearerVerifier> {
    if (!cfg.cert) throw new Error('http.auth.bearer.cert is required (the token signer\'s certificate or public key)');
    const pem = await readTextFile(cfg.cert, 'bearer certificate');
    const key = pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
    return new BearerVerifier(key, algorithmsFor(key), cfg.realm ?? '', cfg.service ?? '');
  }

  /** The identity a valid token carries; throws a short reason when it is not valid. */
  async verify(token: string, now = Date.now()): Promise<Identity> {
    const hit = this.cache.get(token);
    if (hit && hit.until > now) return hit.identity;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: this.algorithms,
        requiredClaims: ['exp', 'iss'],
        clockTolerance: 5,
        currentDate: new Date(now),
        ...(this.service ? { audience: this.service } : {}),
      }));
    } catch (err) {
      throw new Error(reasonOf(err));
    }
    if (typeof payload.iss !== 'string' || payload.iss === '') throw new Error('token has no issuer');
    const access = parseAccess(payload.access);
    const identity: Identity = { name: typeof payload.sub === 'string' && payload.sub ? payload.sub : '(token)', groups: [], method: 'bearer', tokenAccess: access };
    // Verified tokens are remembered until they expire (at most a minute), so a client
    // reusing its token does not pay a signature check per request.
    if (this.cache.size > 4096) this.cache.clear();
    this.cache.set(token, { identity, until: Math.min(now + 60_000, (payload.exp ?? 0) * 1000) });
    return identity;
  }

  /** The `WWW-Authenticate` value for a request that needs `scope` (e.g. `repository:a/b:pull`). */
  challenge(scope: string | undefined, error?: 'invalid_token' | 'insufficient_scope'): string {
    let h = `Bearer realm=${quote(this.realm)},service=${quote(this.service)}`;
    if (scope) h += `,scope=${quote(scope)}`;
    if (error) h += `,error="${error}"`;
    return h;
  }
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === 'secp384r1' ? ['ES384'] : curve === 'secp521r1' ? ['ES512'] : ['ES256'];
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      throw new Error(`bearer certificate: unsupported key type ${key.asymmetricKeyType}`);
  }
}

function parseAccess(raw: unknown): TokenAccess[] {
  if (!Array.isArray(raw)) return [];
  const out: TokenAccess[] = [];
  for (const a of raw) {
    if (typeof a !== 'object' || a === null) continue;
    const { type, name, actions } = a as Record<string, unknown>;
    if (typeof type !== 'string' || typeof name !== 'string' || !Array.isArray(actions)) continue;
    out.push({ type, name, actions: actions.filter((x): x is string => typeof x === 'string') });
  }
  return out;
}

function reasonOf(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `token claim ${err.claim} invalid (${err.reason})`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  return `token invalid: ${(err as Error).message}`;
}
