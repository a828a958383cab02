import { createHmac, randomBytes } from 'node:crypto';
import type { Identity } from './types.ts';

/**
 * Remembers recently VERIFIED basic credentials so bcrypt (tens of milliseconds by
 * design) and LDAP round trips are paid once per client per TTL, not per request.
 *
 * Safety: entries are keyed by an HMAC of user and password under a key drawn at
 * startup, so neither the password nor an offline-attackable fast hash of it is kept
 * (the key never leaves memory). Only successes are cached; a failure always takes the
 * slow path. The whole cache is dropped whenever the user source changes (htpasswd
 * reload, config reload), so a removed user or changed password stops working at once.
 */
export class CredentialCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, { identity: Identity; expires: number }>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly max = 4096,
  ) {}

  private keyOf(user: string, password: string): string {
    return createHmac('sha256', this.key).update(user).update('\0').update(password).digest('base64');
  }

  get(user: string, password: string, now = Date.now()): Identity | undefined {
    const k = this.keyOf(user, password);
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.entries.delete(k);
      return undefined;
    }
    // Refresh recency (Map keeps insertion order: the first key is the least recent).
    this.entries.delete(k);
    this.entries.set(k, e);
    return e.identity;
  }

  set(user: string, password: string, identity: Identity, now = Date.now()): void {
    const k = this.keyOf(user, password);
    this.entries.delete(k);
    this.entries.set(k, { identity, expires: now + this.ttlMs });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
