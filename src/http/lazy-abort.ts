/**
 * A request's abort signal, made only when something asks for it. Most requests (manifest
 * and tag reads) never look at it, and an AbortController per request was ~5% of the
 * server's CPU at 10,000 manifest GETs/s.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  get aborted(): boolean {
    return this.#aborted;
  }

  get signal(): AbortSignal {
    if (this.#aborted && !this.#controller) return AbortSignal.abort(this.#reason);
    return (this.#controller ??= new AbortController()).signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
