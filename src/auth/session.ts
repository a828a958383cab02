import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readTextFile } from '../platform/watched-files.ts';
import type { Identity } from './types.ts';

/** How long a login lasts (zot's gorilla session default is similar: hours, not days). */
export const SESSION_TTL_MS = 8 * 3600_000;
/** Cookie names, as zot names its session cookie. */
export const SESSION_COOKIE = 'session';
export const LOGIN_STATE_COOKIE = 'skiff_oidc_state';

/**
 * Signed cookies: `base64url(json).base64url(HMAC-SHA256)`. The key is `hashKey` from
 * `sessionKeysFile` when given (so sessions survive a restart and can be shared by
 * replicas), else random per process. Payloads carry a purpose so a login-state cookie
 * can never be replayed as a session. Contents are signed, not encrypted: they hold a
 * user name and groups, nothing secret (`encryptKey` is read but not needed).
 *
 * Logout revokes the session id server-side until the session would have expired anyway.
 */
export class SessionSigner {
  private readonly revoked = new Map<string, number>();

  private constructor(private readonly key: Buffer) {}

  static async create(sessionKeysFile: string | undefined): Promise<SessionSigner> {
    if (!sessionKeysFile) return new SessionSigner(randomBytes(32));
    const doc = JSON.parse(await readTextFile(sessionKeysFile, 'session keys file')) as { hashKey?: unknown };
    if (typeof doc.hashKey !== 'string' || doc.hashKey.length < 16) {
      throw new Error(`session keys file ${sessionKeysFile}: hashKey must be a string of at least 16 characters`);
    }
    return new SessionSigner(Buffer.from(doc.hashKey, 'utf8'));
  }

  private mac(data: string): Buffer {
    return createHmac('sha256', this.key).update(data).digest();
  }

  /** Signs `payload` for `purpose`, valid for `ttlMs`. */
  sign(purpose: string, payload: Record<string, unknown>, ttlMs: number, now = Date.now()): string {
    const body = Buffer.from(JSON.stringify({ ...payload, p: purpose, exp: now + ttlMs })).toString('base64url');
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  /** The payload when the signature, purpose and expiry hold; undefined otherwise. */
  open(purpose: string, value: string, now = Date.now()): Record<string, unknown> | undefined {
    const dot = value.indexOf('.');
    if (dot <= 0) return undefined;
    const body = value.slice(0, dot);
    const sig = Buffer.from(value.slice(dot + 1), 'base64url');
    const want = this.mac(body);
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) return undefined;
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    if (payload.p !== purpose || typeof payload.exp !== 'number' || payload.exp <= now) return undefined;
    return payload;
  }

  /** A session cookie value for a logged-in identity. */
  createSession(identity: Identity, now = Date.now()): string {
    return this.sign('session', { sid: randomUUID(), sub: identity.name, groups: identity.groups }, SESSION_TTL_MS, now);
  }

  /** The identity of a valid, unrevoked session cookie. */
  verifySession(value: string, now = Date.now()): Identity | undefined {
    const p = this.open('session', value, now);
    if (!p || typeof p.sub !== 'string' || typeof p.sid !== 'string' || this.revoked.has(p.sid)) return undefined;
    const groups = Array.isArray(p.groups) ? p.groups.filter((g): g is string => typeof g === 'string') : [];
    return { name: p.sub, groups, method: 'session' };
  }

  /** Revokes a session (logout). Unknown or invalid values are ignored. */
  revoke(value: string, now = Date.now()): void {
    const p = this.open('session', value, now);
    if (!p || typeof p.sid !== 'string') return;
    this.revoked.set(p.sid, p.exp as number);
    for (const [sid, exp] of this.revoked) if (exp <= now) this.revoked.delete(sid);
  }
}
