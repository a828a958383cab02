/**
 * When each blob (and upload session, keyed `upload:<id>`) of each repository was last
 * vouched for by a client: uploaded, written to, mounted, or found by a HEAD (the step before a client skips an upload and references
 * the blob in its next manifest). Garbage collection spares blobs touched since
 * `sweepStart - gcDelay`, so a push racing a sweep never loses a layer it was told exists,
 * even with `gcDelay: 0`. In memory: after a restart, file mtimes carry the same meaning.
 */
export class TouchLog {
  private touched = new Map<string, number>();

  touch(repo: string, digest: string, at = Date.now()): void {
    this.touched.set(`${repo}@${digest}`, at);
  }

  lastTouch(repo: string, digest: string): number | undefined {
    return this.touched.get(`${repo}@${digest}`);
  }

  /** Forgets touches older than `before`, so the map does not grow without bound. */
  prune(before: number): void {
    for (const [k, t] of this.touched) if (t < before) this.touched.delete(k);
  }
}
