// A small distribution-API client over RawPool (rawhttp.mjs): the same calls for both servers.
// Blob pushes use POST (session) + PUT ?digest= with the whole body, because distribution 2.8
// does not accept a single-POST monolithic upload with a body; chunked pushes PATCH with
// Content-Range ("start-end", the spec form both servers accept).
import { createHash, randomFillSync } from 'node:crypto';
import { RawPool } from './rawhttp.mjs';

/** A pool of keep-alive connections to one server. */
export function pool(origin, connections = 8) {
  return new RawPool(origin, connections);
}

function fail(op, res) {
  throw new Error(`${op}: HTTP ${res.status} ${res.body ? res.body.toString('utf8', 0, 300) : ''}`);
}

/** Path + query of a Location header, which may be absolute (distribution) or relative (skiff). */
function locationPath(loc) {
  if (!loc) throw new Error('upload response has no Location');
  const u = new URL(loc, 'http://x');
  return u.pathname + u.search;
}

const withQuery = (path, key, value) => `${path}${path.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(value)}`;

/** `size` random bytes (filled 16 MiB at a time); share one among BlobSources of any smaller size. */
export function randomBytesOf(size) {
  const buf = Buffer.allocUnsafe(size);
  for (let off = 0; off < size; off += 1 << 24) randomFillSync(buf, off, Math.min(1 << 24, size - off));
  return buf;
}

let serial = 0;

/**
 * Random content of `size` bytes whose last 8 bytes are a counter: every `next()` is a new
 * blob (no dedupe shortcut), and its digest costs only the 8-byte tail, because the hash of the
 * shared prefix is computed once and copied.
 */
export class BlobSource {
  constructor(size, base = randomBytesOf(size)) {
    if (size < 16 || base.length < size) throw new Error('bad blob size');
    this.size = size;
    this.base = base.subarray(0, size);
    this.prefix = createHash('sha256').update(this.base.subarray(0, size - 8));
  }

  /** A blob never returned before in this process. */
  next() {
    return this.variant(++serial);
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

/** The body as ≤ 4 MiB pieces, written one after another with backpressure. */
function pieces(parts) {
  const STEP = 4 << 20;
  const out = [];
  for (const p of parts) for (let o = 0; o < p.length; o += STEP) out.push(p.subarray(o, Math.min(p.length, o + STEP)));
  return out;
}

export async function startUpload(p, repo) {
  const res = await p.request({ method: 'POST', path: `/v2/${repo}/blobs/uploads/`, keep: true });
  if (res.status !== 202) return fail(`POST upload ${repo}`, res);
  return locationPath(res.headers.location);
}

/** POST a session, then PUT ?digest= with the whole blob. */
export async function pushMonolithic(p, repo, blob) {
  const loc = await startUpload(p, repo);
  const res = await p.request({
    method: 'PUT',
    path: withQuery(loc, 'digest', blob.digest),
    headers: { 'Content-Type': 'application/octet-stream' },
    body: pieces(blob.parts()),
    keep: true,
  });
  if (res.status !== 201) return fail(`PUT blob ${repo}`, res);
}

/** POST a session, PATCH `chunk`-byte pieces with Content-Range, then PUT ?digest= with no body. */
export async function pushChunked(p, repo, blob, chunk) {
  let loc = await startUpload(p, repo);
  for (let start = 0; start < blob.size; start += chunk) {
    const end = Math.min(blob.size, start + chunk);
    const res = await p.request({
      method: 'PATCH',
      path: loc,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end - 1}` },
      body: pieces(blob.parts(start, end)),
      keep: true,
    });
    if (res.status !== 202) return fail(`PATCH ${repo} ${start}-${end - 1}`, res);
    loc = locationPath(res.headers.location);
  }
  const res = await p.request({ method: 'PUT', path: withQuery(loc, 'digest', blob.digest), keep: true });
  if (res.status !== 201) return fail(`PUT (close) ${repo}`, res);
}

/** GET a blob and count its bytes (discarded). */
export async function pullBlob(p, repo, digest) {
  const res = await p.request({ method: 'GET', path: `/v2/${repo}/blobs/${digest}` });
  if (res.status !== 200) return fail(`GET blob ${repo}`, res);
  return res.bytes;
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
    keep: true,
  });
  if (res.status !== 201) return fail(`mount ${digest} ${from} -> ${repo}`, res);
}

export async function putManifest(p, repo, ref, body, mediaType) {
  const res = await p.request({
    method: 'PUT',
    path: `/v2/${repo}/manifests/${ref}`,
    headers: { 'Content-Type': mediaType },
    body: [body],
    keep: true,
  });
  if (res.status !== 201) return fail(`PUT manifest ${repo}:${ref}`, res);
}

/** Runs `fn(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function parallel(count, concurrency, fn) {
  let next = 0;
  const worker = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
