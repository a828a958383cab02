/**
 * Which upstream URLs are reachable. An upstream that failed (refused, timed out, 5xx) is
 * marked down with exponential backoff; while it is down, requests for content held
 * locally skip it entirely and are served at once (offline first), instead of each one
 * waiting out a timeout again. The first success clears the state. In memory only, as
 * zot's manifestCheckInterval timestamps are.
 */
import { backoff } from './util.ts';

interface UrlState {
  failures: number;
  downUntil: number;
}

export class UpstreamHealth {
  private state = new Map<string, UrlState>();

  /**
   * @param baseMs first backoff period (zot's `retryDelay` when set)
   * @param capMs longest backoff period (zot's `maxRetryDelay` when set)
   */
  constructor(private readonly baseMs: number, private readonly capMs: number, private readonly now: () => number = Date.now) {}

  /** True while the URL's backoff period runs. */
  isDown(url: string): boolean {
    const s = this.state.get(url);
    return s !== undefined && this.now() < s.downUntil;
  }

  /** True once the URL has failed and not yet succeeded again (its backoff may have expired). */
  isSuspect(url: string): boolean {
    return (this.state.get(url)?.failures ?? 0) > 0;
  }

  /** Records a failure; returns the backoff period now in force. */
  markDown(url: string): number {
    const s = this.state.get(url) ?? { failures: 0, downUntil: 0 };
    const wait = backoff(s.failures, this.baseMs, this.capMs);
    s.failures++;
    s.downUntil = this.now() + wait;
    this.state.set(url, s);
    return wait;
  }

  markUp(url: string): boolean {
    return this.state.delete(url);
  }
}
