/**
 * HTTP byte ranges (RFC 9110 §14) for blob GETs, and the upload `Content-Range` form
 * the distribution-spec uses for chunks ("<start>-<end>", no unit, inclusive).
 */

/** An inclusive byte range within a blob. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a `Range` header against a blob size. Returns `undefined` when the header is
 * absent, malformed or asks for several ranges (RFC 9110 lets a server ignore Range and
 * send the whole body), and `'unsatisfiable'` for a well-formed range outside the blob.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  let end = b === '' ? Math.max(start, size - 1) : Number(b);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  if (end >= size) end = size - 1;
  return { start, end };
}

/**
 * Parses an upload chunk's `Content-Range: <start>-<end>` (distribution-spec "Pushing a
 * blob in chunks"). Also accepts the RFC form `bytes <start>-<end>/<total>` some clients send.
 */
export function parseContentRange(header: string | undefined): ByteRange | null | undefined {
  if (header === undefined || header === '') return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return null;
  return { start, end };
}
