import type { RatelimitConfig } from '../config/types.ts';

/**
 * Token buckets per client address (zot `http.ratelimit`, which uses tollbooth): `rate`
 * requests per second for every request, and `methods[]{method, rate}` for one method on
 * top. A bucket holds max(1, rate) tokens, so a client may burst up to one second's worth.
 *
 * Keys are the peer address only (tollbooth also keys by path, which lets a client
 * multiply its budget by varying URLs, and may trust X-Forwarded-For, which a client can
 * forge; skiff does neither).
 */
export class RateLimiter {
  private readonly global: Buckets | undefined;
  private readonly perMethod = new Map<string, Buckets>();

  constructor(cfg: RatelimitConfig) {
    if (cfg.rate !== undefined && cfg.rate > 0) this.global = new Buckets(cfg.rate);
    for (const m of cfg.methods) {
      if (m.method && m.rate !== undefined && m.rate > 0) this.perMethod.set(m.method.toUpperCase(), new Buckets(m.rate));
    }
  }

  /** True when the request may proceed (and takes its token). */
  allow(client: string, method: string, now = performance.now()): boolean {
    const m = this.perMethod.get(method);
    // Check both before taking either, so a refusal by one does not spend the other.
    if (this.global && !this.global.has(client, now)) return false;
    if (m && !m.has(client, now)) return false;
    this.global?.take(client);
    m?.take(client);
    return true;
  }
}

class Buckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly capacity: number;
  private readonly perMs: number;

  constructor(ratePerSecond: number) {
    this.capacity = Math.max(1, ratePerSecond);
    this.perMs = ratePerSecond / 1000;
  }

  /** Refills the client's bucket and says whether a token is available. */
  has(client: string, now: number): boolean {
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= 65_536) this.prune(now);
      b = { tokens: this.capacity, at: now };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.capacity, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    }
    return b.tokens >= 1;
  }

  take(client: string): void {
    const b = this.buckets.get(client);
    if (b) b.tokens -= 1;
  }

  /** Drops buckets that have refilled completely: they carry no information. */
  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * this.perMs >= this.capacity) this.buckets.delete(k);
  }
}
