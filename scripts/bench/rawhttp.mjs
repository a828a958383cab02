// A minimal HTTP/1.1 keep-alive client on raw sockets, for moving blobs cheaply. Each
// connection reads into one reused 1 MiB buffer (net `onread`), so pulling a body costs a read
// syscall per MiB and no allocation; bodies are counted, not kept, unless asked for. Measured
// on this kind of machine it uses about a tenth of the client CPU of undici's body stream, which
// matters because the client shares the cores with the server under test.
// Supported replies: Content-Length bodies and bodiless statuses (all the registry API needs
// here; chunked replies are refused with an error rather than misread).
import { connect } from 'node:net';

const HEAD_END = '\r\n\r\n';

class Connection {
  constructor(host, port, bufferSize) {
    this.host = host;
    this.port = port;
    this.dead = false;
    this.pending = null;
    const buffer = Buffer.allocUnsafe(bufferSize);
    this.ready = new Promise((resolve, reject) => {
      this.sock = connect({ host, port, onread: { buffer, callback: (n, buf) => this.onRead(n, buf) } });
      this.sock.setNoDelay(true);
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
    this.sock.on('error', (err) => this.fail(err));
    this.sock.on('close', () => this.fail(new Error('connection closed by server')));
  }

  fail(err) {
    this.dead = true;
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
  }

  onRead(n, buf) {
    const p = this.pending;
    if (!p) return;
    let off = 0;
    if (p.length === undefined) {
      p.head += buf.toString('latin1', 0, n);
      const end = p.head.indexOf(HEAD_END);
      if (end < 0) return;
      const lines = p.head.slice(0, end).split('\r\n');
      p.status = Number(lines[0].slice(9, 12));
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':');
        p.headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
      }
      const bodyless = p.method === 'HEAD' || p.status === 204 || p.status === 304 || (p.status >= 100 && p.status < 200);
      if (!bodyless && p.headers['content-length'] === undefined) {
        this.dead = true;
        this.sock.destroy();
        return p.reject(new Error(`${p.method} ${p.path}: reply without Content-Length (${p.headers['transfer-encoding'] ?? 'no framing'})`));
      }
      p.length = bodyless ? 0 : Number(p.headers['content-length']);
      off = n - (p.head.length - (end + HEAD_END.length));
    }
    const take = Math.min(n - off, p.length - p.bytes);
    if (take > 0) {
      if (p.keep) p.chunks.push(Buffer.from(buf.subarray(off, off + take)));
      p.bytes += take;
    }
    if (p.bytes === p.length) {
      this.pending = null;
      if (p.headers.connection?.toLowerCase() === 'close') this.dead = true;
      p.resolve({ status: p.status, headers: p.headers, bytes: p.bytes, body: p.keep ? Buffer.concat(p.chunks) : null });
    }
  }

  /** Sends one request; body is an array of Buffers (written with backpressure) or null. */
  async request({ method, path, headers = {}, body = null, keep = false }) {
    await this.ready;
    if (this.dead) throw new Error('connection is closed');
    const size = body ? body.reduce((a, b) => a + b.length, 0) : 0;
    const lines = [`${method} ${path} HTTP/1.1`, `Host: ${this.host}:${this.port}`];
    const all = { ...headers };
    if (body || method === 'POST' || method === 'PUT' || method === 'PATCH') all['Content-Length'] = String(size);
    for (const [k, v] of Object.entries(all)) lines.push(`${k}: ${v}`);
    const done = new Promise((resolve, reject) => {
      this.pending = { method, path, keep, head: '', headers: {}, status: 0, length: undefined, bytes: 0, chunks: [], resolve, reject };
    });
    const sock = this.sock;
    sock.write(lines.join('\r\n') + HEAD_END, 'latin1');
    for (const part of body ?? []) {
      if (!sock.write(part)) await new Promise((r) => sock.once('drain', r));
    }
    return done;
  }

  close() {
    this.dead = true;
    this.sock.destroy();
  }
}

/**
 * Up to `size` keep-alive connections to `origin`; `request()` waits for a free one.
 * Connections are opened on first use (or all at once with `warm()`).
 */
export class RawPool {
  constructor(origin, size = 1, bufferSize = 1 << 20) {
    const u = new URL(origin);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.size = size;
    this.bufferSize = bufferSize;
    this.idle = [];
    this.open = 0;
    this.waiters = [];
  }

  async acquire() {
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      if (!c.dead) return c;
      this.open--;
    }
    if (this.open < this.size) {
      this.open++;
      return new Connection(this.host, this.port, this.bufferSize);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(c) {
    if (c.dead) {
      this.open--;
      if (this.waiters.length) {
        this.open++;
        this.waiters.shift()(new Connection(this.host, this.port, this.bufferSize));
      }
      return;
    }
    const w = this.waiters.shift();
    if (w) w(c);
    else this.idle.push(c);
  }

  async request(opts) {
    const c = await this.acquire();
    try {
      return await c.request(opts);
    } finally {
      this.release(c);
    }
  }

  /** Opens every connection now, so a measurement does not time the handshakes. */
  async warm() {
    const conns = [];
    while (this.open < this.size) conns.push(await this.acquire());
    await Promise.all(conns.map((c) => c.ready));
    for (const c of conns) this.release(c);
  }

  close() {
    for (const c of this.idle) c.close();
    this.idle = [];
    this.open = 0;
  }
}
