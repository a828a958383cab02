/**
 * A blob download that survives a broken connection: when the body stops short, the rest
 * is asked for with `Range: bytes=<received>-` and the stream carries on where it was, so
 * storage (which hashes and verifies the whole stream) never sees the break and a 1 GB
 * layer cut at 900 MB costs 100 MB more, not 1 GB. An upstream that ignores the Range and
 * answers 200 is handled too: the bytes already received are skipped.
 */
import type { Logger } from 'pino';
import { UpstreamError } from './errors.ts';
import type { Upstream } from './upstream.ts';
import { backoff, sleep } from './util.ts';

export interface ResumeOptions {
  /** Resumptions allowed after the first attempt. */
  resumes: number;
  delayMs: number;
  maxDelayMs: number;
  signal?: AbortSignal;
  log: Logger;
}

/** The bytes of one blob, in order, from one or more upstream responses. */
export async function* resumableBlob(up: Upstream, repo: string, digest: string, size: number, o: ResumeOptions): AsyncGenerator<Buffer> {
  let got = 0;
  for (let attempt = 0; ; attempt++) {
    let failure: unknown;
    try {
      const { body, start } = await up.blob(repo, digest, got, o.signal);
      let skip = got - start;
      for await (const raw of body) {
        let chunk = raw;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        got += chunk.length;
        yield chunk;
      }
      if (got >= size) return;
      failure = new Error(`body ended at ${got} of ${size} bytes`);
    } catch (err) {
      failure = err;
    }
    if (o.signal?.aborted) throw o.signal.reason;
    // A missing blob will not appear by asking again; a broken connection may well recover.
    if (attempt >= o.resumes || (failure instanceof UpstreamError && failure.kind !== 'unreachable')) throw failure;
    o.log.warn({ digest, received: got, size, attempt: attempt + 1, err: failure }, 'blob download broke; resuming with a Range request');
    await sleep(backoff(attempt, o.delayMs, o.maxDelayMs), o.signal);
  }
}
