/**
 * Runs `fn` over `items` with at most `limit` calls in flight. For batches of small file
 * operations (stat, unlink, read) where one-at-a-time pays an event-loop round trip per
 * file, which under request load stretches a GC sweep or a reconcile many times over.
 */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
