/**
 * Test clients for the HTTP engines: node's http client (keep-alive agent) and
 * a raw TCP socket that shows exactly what a server sent, including nothing.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  reusedSocket: boolean;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  agent?: http.Agent | false;
  tls?: boolean;
  /** PEM client certificate and key to present over TLS. */
  clientCert?: { cert: Buffer; key: Buffer };
}

/** One request with node's http client; the whole body is collected. */
export function request(port: number, path: string, opts: RequestOptions = {}): Promise<SimpleResponse> {
  const mod = opts.tls ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: opts.agent,
        ...(opts.tls ? { rejectUnauthorized: false, ...(opts.clientCert ?? {}) } : {}),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), reusedSocket: req.reusedSocket }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Parse the `{"errors":[...]}` envelope's codes. */
export function errorCodes(body: Buffer): string[] {
  const parsed = JSON.parse(body.toString()) as { errors?: { code: string }[] };
  return (parsed.errors ?? []).map((e) => e.code);
}

/** A raw connection: write bytes, read what arrives, see whether the server closed. */
export class RawConnection {
  readonly socket: net.Socket;
  #data = Buffer.alloc(0);
  #closed = false;
  #error: Error | undefined;
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#data = Buffer.concat([this.#data, d]);
      this.#wake();
    });
    socket.on('error', (e) => (this.#error = e));
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  /** Connect to 127.0.0.1:port, over TLS (any certificate accepted) when asked. */
  static open(port: number, opts: { tls?: boolean } = {}): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s: net.Socket = opts.tls
        ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(new RawConnection(s)))
        : net.connect(port, '127.0.0.1', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }
  get error(): Error | undefined {
    return this.#error;
  }
  /** Everything received so far, as text. */
  get text(): string {
    return this.#data.toString('latin1');
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Wait until `pred(text)` holds, the socket closes, or `ms` pass. */
  async until(pred: (text: string) => boolean, ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!pred(this.text)) {
      if (this.#closed || Date.now() >= deadline) return pred(this.text);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }

  /** Drop what was received so far (to read the next response on keep-alive). */
  consume(): string {
    const t = this.text;
    this.#data = Buffer.alloc(0);
    return t;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
