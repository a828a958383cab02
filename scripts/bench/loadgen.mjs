// A closed-loop HTTP/1.1 load generator on raw keep-alive sockets, for what wrk cannot do:
// Debian's wrk 4.1 waits for a body after a HEAD response that carries Content-Length, so
// HEAD rows use this instead (and every rate row with --gen node). Per request it writes one
// prebuilt buffer and scans the reply, read into a reused buffer (net `onread`), for the header
// end and Content-Length (or the chunked framing).
import { connect } from 'node:net';

/** Percentile (0..100) of an ascending-sorted array, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * Consumes a chunked body (RFC 9112 §7.1) fed in pieces; `feed` returns true once the last
 * chunk and the empty trailer line have arrived. Needed for distribution's larger JSON replies
 * (Go switches to chunked past its 2 KiB write buffer).
 */
function chunkedBody() {
  let line = ''; // a size line (or the trailer line) being read
  let data = -1; // bytes of chunk data + CRLF still to skip; -1 while reading a size line
  let last = false;
  return (buf, start, end) => {
    let i = start;
    while (i < end) {
      if (data > 0) {
        const take = Math.min(data, end - i);
        data -= take;
        i += take;
        if (data === 0) data = -1;
        continue;
      }
      const nl = buf.indexOf(10, i);
      if (nl < 0 || nl >= end) {
        line += buf.toString('latin1', i, end);
        return false;
      }
      line += buf.toString('latin1', i, nl);
      i = nl + 1;
      const text = line.trim();
      line = '';
      if (last) {
        if (text === '') return true; // end of the (empty) trailer section
        continue;
      }
      const size = parseInt(text, 16);
      if (size === 0) last = true;
      else data = size + 2;
    }
    return false;
  };
}

/** One connection running requests back to back until `deadline`; records latencies (ms). */
function connection({ host, port, request, isHead, deadline, lat, counts }) {
  return new Promise((resolve, reject) => {
    let head = '';
    let remaining = -1; // Content-Length body bytes still expected; -1 while reading the head
    let chunked = null; // the chunked-body parser of the current reply, if it is chunked
    let t0 = 0;
    const send = () => {
      if (performance.now() >= deadline) {
        sock.end();
        return resolve();
      }
      t0 = performance.now();
      sock.write(request);
    };
    const complete = () => {
      const t = performance.now();
      if (t <= deadline) {
        lat.push(t - t0);
        const status = Number(head.slice(9, 12));
        if (status < 200 || status > 299) counts.non2xx++;
      }
      head = '';
      remaining = -1;
      chunked = null;
      send();
    };
    const onRead = (n, buf) => {
      let from = 0;
      if (remaining < 0 && chunked === null) {
        head += buf.toString('latin1', 0, n);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = Number(head.slice(9, 12));
        const fields = head.slice(0, end);
        from = n - (head.length - end - 4);
        head = head.slice(0, end + 4);
        const bodyless = isHead || status === 204 || status === 304;
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(fields);
        if (!bodyless && !m) {
          if (!/\r\ntransfer-encoding:\s*chunked/i.test(fields)) return reject(new Error('loadgen: reply without framing'));
          chunked = chunkedBody();
        } else remaining = bodyless ? 0 : Number(m[1]);
      }
      if (chunked) {
        if (chunked(buf, from, n)) complete();
        return;
      }
      remaining -= n - from;
      if (remaining < 0) return reject(new Error('loadgen: unexpected bytes after a reply'));
      if (remaining === 0) complete();
    };
    const sock = connect({ host, port, onread: { buffer: Buffer.allocUnsafe(65536), callback: onRead } });
    sock.setNoDelay(true);
    sock.once('connect', send);
    sock.once('error', reject);
  });
}

/**
 * Runs `connections` closed-loop clients for `seconds` against `url`. Resolves to the same
 * shape as runWrk: { requests, seconds, rps, p50Ms, p90Ms, p99Ms, meanMs, errors, non2xx }.
 */
export async function runLoad({ url, method = 'GET', headers = {}, connections, seconds }) {
  const u = new URL(url);
  const head = [`${method} ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`];
  for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
  const request = Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1');
  const lat = [];
  const counts = { non2xx: 0 };
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const opts = { host: u.hostname, port: Number(u.port), request, isHead: method === 'HEAD', deadline, lat, counts };
  await Promise.all(Array.from({ length: connections }, () => connection(opts)));
  const secs = (Math.min(performance.now(), deadline) - start) / 1000;
  const sorted = Float64Array.from(lat).sort();
  const mean = lat.reduce((a, b) => a + b, 0) / (lat.length || 1);
  return {
    requests: lat.length,
    seconds: secs,
    rps: lat.length / secs,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    meanMs: mean,
    errors: 0,
    non2xx: counts.non2xx,
  };
}
