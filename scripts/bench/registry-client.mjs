// A small distribution-API client over an undici Pool: the same calls for both servers.
// Blob pushes use POST (session) + PUT ?digest= with the whole body, because distribution 2.8
// does not accept a single-POST monolithic upload with a body; chunked pushes PATCH with
// Content-Range ("start-end", the spec form both servers accept).
import { Pool } from 'undici';
import { createHash, randomFillSync } from 'node:crypto';

/** A pooled keep-alive client for one server. */
export function pool(origin, connections = 8) {
  return new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, bodyTimeout: 0, headersTimeout: 0 });
}

async function fail(op, res) {
  const text = res.body ? await res.body.text().catch(() => '') : '';
  throw new Error(`${op}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
}

/** Path + query of a Location header, which may be absolute (distribution) or relative (skiff). */
function locationPath(loc) {
  if (!loc) throw new Error('upload response has no Location');
  const u = new URL(loc, 'http://x');
  return u.pathname + u.search;
}

const withQuery = (path, key, value) => `${path}${path.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(value)}`;

/**
 * Random content of `size` bytes whose last 8 bytes are a counter: every `variant(n)` is a new
 * blob (no dedupe shortcut), and its digest costs only the 8-byte tail, because the hash of the
 * shared prefix is computed once and copied.
 */
export class BlobSource {
  constructor(size) {
    if (size < 16) throw new Error('blob too small');
    this.size = size;
    this.base = Buffer.allocUnsafe(size);
    for (let off = 0; off < size; off += 1 << 24) randomFillSync(this.base, off, Math.min(1 << 24, size - off));
    this.prefix = createHash('sha256').update(this.base.subarray(0, size - 8));
  }

  variant(n) {
    const tail = Buffer.alloc(8);
    tail.writeBigUInt64BE(BigInt(n));
    const digest = `sha256:${this.prefix.copy().update(tail).digest('hex')}`;
    const { base, size } = this;
    return {
      size,
      digest,
      /** The bytes [start, end) as at most two buffers, without copying the shared part. */
      parts(start = 0, end = size) {
        const cut = size - 8;
        const out = [];
        if (start < cut) out.push(base.subarray(start, Math.min(end, cut)));
        if (end > cut) out.push(tail.subarray(Math.max(0, start - cut), end - cut));
        return out;
      },
    };
  }
}

/** The body as a sync iterable of ≤ 16 MiB pieces: undici writes them with backpressure. */
function* pieces(parts) {
  const STEP = 16 << 20;
  for (const p of parts) for (let o = 0; o < p.length; o += STEP) yield p.subarray(o, Math.min(p.length, o + STEP));
}

export async function startUpload(p, repo) {
  const res = await p.request({ method: 'POST', path: `/v2/${repo}/blobs/uploads/`, headers: { 'content-length': '0' } });
  if (res.statusCode !== 202) return fail(`POST upload ${repo}`, res);
  await res.body.dump();
  return locationPath(res.headers.location);
}

/** POST a session, then PUT ?digest= with the whole blob. */
export async function pushMonolithic(p, repo, blob) {
  const loc = await startUpload(p, repo);
  const res = await p.request({
    method: 'PUT',
    path: withQuery(loc, 'digest', blob.digest),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
    body: pieces(blob.parts()),
  });
  if (res.statusCode !== 201) return fail(`PUT blob ${repo}`, res);
  await res.body.dump();
}

/** POST a session, PATCH `chunk`-byte pieces with Content-Range, then PUT ?digest= with no body. */
export async function pushChunked(p, repo, blob, chunk) {
  let loc = await startUpload(p, repo);
  for (let start = 0; start < blob.size; start += chunk) {
    const end = Math.min(blob.size, start + chunk);
    const res = await p.request({
      method: 'PATCH',
      path: loc,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(end - start),
        'content-range': `${start}-${end - 1}`,
      },
      body: pieces(blob.parts(start, end)),
    });
    if (res.statusCode !== 202) return fail(`PATCH ${repo} ${start}-${end - 1}`, res);
    await res.body.dump();
    loc = locationPath(res.headers.location);
  }
  const res = await p.request({ method: 'PUT', path: withQuery(loc, 'digest', blob.digest), headers: { 'content-length': '0' } });
  if (res.statusCode !== 201) return fail(`PUT (close) ${repo}`, res);
  await res.body.dump();
}

/** GET a blob and count its bytes (discarded). */
export async function pullBlob(p, repo, digest) {
  const res = await p.request({ method: 'GET', path: `/v2/${repo}/blobs/${digest}`, maxRedirections: 0 });
  if (res.statusCode !== 200) return fail(`GET blob ${repo}`, res);
  let n = 0;
  for await (const c of res.body) n += c.length;
  return n;
}

/** Pushes a small in-memory blob (POST + PUT); returns its digest. */
export async function pushBuffer(p, repo, buf) {
  const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
  await pushMonolithic(p, repo, { size: buf.length, digest, parts: () => [buf] });
  return digest;
}

/** Cross-repository mount (POST ?mount=&from=); must answer 201. */
export async function mount(p, repo, from, digest) {
  const res = await p.request({
    method: 'POST',
    path: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
    headers: { 'content-length': '0' },
  });
  if (res.statusCode !== 201) return fail(`mount ${digest} ${from} -> ${repo}`, res);
  await res.body.dump();
}

export async function putManifest(p, repo, ref, body, mediaType) {
  const res = await p.request({
    method: 'PUT',
    path: `/v2/${repo}/manifests/${ref}`,
    headers: { 'content-type': mediaType, 'content-length': String(body.length) },
    body,
  });
  if (res.statusCode !== 201) return fail(`PUT manifest ${repo}:${ref}`, res);
  await res.body.dump();
}

/** Runs `fn(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function parallel(count, concurrency, fn) {
  let next = 0;
  const worker = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
