import { RegistryError } from '../errors/index.ts';
import type { RequestContext } from '../http/types.ts';
import { validateName } from '../oci/index.ts';
import type { Page } from '../storage/index.ts';

/** The repository name of a request, validated against the spec grammar. */
export function repoOf(ctx: RequestContext): string {
  return validateName(ctx.params.name ?? '');
}

/** Content-Length as a number; undefined when absent, SIZE_INVALID when malformed. */
export function contentLength(ctx: RequestContext): number | undefined {
  const v = ctx.headers['content-length'];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new RegistryError('SIZE_INVALID', `invalid Content-Length "${v.slice(0, 40)}"`);
  return Number(v);
}

/** True when the request carries a body (a length above zero, or chunked encoding). */
export function hasBody(ctx: RequestContext): boolean {
  const len = contentLength(ctx);
  if (len !== undefined) return len > 0;
  return /chunked/i.test(ctx.headers['transfer-encoding'] ?? '');
}

/** Reads a small body whole (manifests); refuses more than `limit` bytes with 413. */
export async function readSmallBody(ctx: RequestContext, limit: number): Promise<Buffer> {
  const declared = contentLength(ctx);
  if (declared !== undefined && declared > limit) {
    throw new RegistryError('MANIFEST_INVALID', `body of ${declared} bytes exceeds the ${limit}-byte limit`, { status: 413 });
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.body()) {
    total += chunk.length;
    if (total > limit) throw new RegistryError('MANIFEST_INVALID', `body exceeds the ${limit}-byte limit`, { status: 413 });
    parts.push(chunk);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/**
 * Pagination parameters (distribution-spec "Listing Tags": `n` and `last`). A
 * malformed `n` is a client error rather than silently ignored.
 */
export function pageParams(ctx: RequestContext): { n?: number; last?: string } {
  const out: { n?: number; last?: string } = {};
  const n = ctx.query.get('n');
  if (n !== null && n !== '') {
    if (!/^\d{1,9}$/.test(n)) throw new RegistryError('UNSUPPORTED', `invalid page size n="${n.slice(0, 20)}"`, { status: 400 });
    out.n = Number(n);
  }
  const last = ctx.query.get('last');
  if (last !== null && last !== '') out.last = last;
  return out;
}

/** The RFC 8288 `Link` header pointing at the next page, when there is one. */
export function nextLink(base: string, page: Page, n: number | undefined): Record<string, string> {
  if (!page.more || n === undefined || page.items.length === 0) return {};
  const last = page.items[page.items.length - 1]!;
  return { Link: `<${base}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"` };
}

/** A JSON reply. */
export function json(status: number, value: unknown, headers: Record<string, string> = {}) {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(value) };
}
