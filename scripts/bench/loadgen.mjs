// A closed-loop HTTP/1.1 load generator on raw keep-alive sockets, for what wrk cannot do:
// Debian's wrk 4.1 waits for a body after a HEAD response that carries Content-Length, so
// HEAD rows use this instead. Per request it writes one prebuilt buffer and scans the reply,
// read into a reused buffer (net `onread`), for the header end and Content-Length.
import { connect } from 'node:net';

/** Percentile (0..100) of an ascending-sorted array, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** One connection running requests back to back until `deadline`; records latencies (ms). */
function connection({ host, port, request, isHead, deadline, lat, counts }) {
  return new Promise((resolve, reject) => {
    let head = '';
    let remaining = -1; // body bytes still expected; -1 while reading the head
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
      send();
    };
    const onRead = (n, buf) => {
      let body = n;
      if (remaining < 0) {
        head += buf.toString('latin1', 0, n);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = Number(head.slice(9, 12));
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head.slice(0, end));
        if (!m && !isHead && status !== 204 && status !== 304) return reject(new Error('loadgen: reply without Content-Length'));
        remaining = isHead || status === 204 || status === 304 ? 0 : Number(m[1]);
        body = head.length - end - 4;
      }
      remaining -= body;
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
