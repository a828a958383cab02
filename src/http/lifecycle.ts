/**
 * Small pieces both engines share around a request's life: the abort reason,
 * the empty body, and waiting for in-flight requests during a graceful close.
 */

/** The reason `ctx.signal` aborts with, and what a body read throws, when the client leaves. */
export function abortError(): Error {
  const err = new Error('the client closed the connection before the response was complete');
  err.name = 'AbortError';
  return err;
}

/** The body of a request that has none. */
export function emptyBody(): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }),
  };
}

/** A count of in-flight requests with a callback for when it reaches zero. */
export interface InFlight {
  count: number;
  onIdle: (() => void) | undefined;
}

/**
 * Resolve once no request is in flight, or after `graceMs`, whichever comes
 * first. The timer is unref'd so a stuck request never holds the process open
 * on its own.
 */
export function waitForDrain(inflight: InFlight, graceMs: number): Promise<void> {
  if (inflight.count === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, graceMs));
    timer.unref();
    inflight.onIdle = done;
    function done() {
      clearTimeout(timer);
      inflight.onIdle = undefined;
      resolve();
    }
  });
}
