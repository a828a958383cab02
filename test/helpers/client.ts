import { request } from 'node:http';
import type { Blob } from './content.ts';

/** A small distribution-API client over fetch, for tests that check raw HTTP. */
export class Client {
  constructor(readonly url: string) {}

  req(method: string, path: string, init: { body?: Buffer | string; headers?: Record<string, string> } = {}) {
    const opts: RequestInit = { method, headers: init.headers ?? {}, redirect: 'manual' };
    if (init.body !== undefined) opts.body = init.body as unknown as string;
    return fetch(this.url + path, opts);
  }

  /**
   * A request whose path is sent byte for byte (fetch would resolve `..` and `%2e%2e`
   * before sending, hiding exactly what a hostile client would send).
   */
  raw(method: string, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(this.url + '/', { method, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Monolithic blob push (POST ?digest=). */
  async pushBlob(repo: string, b: Blob): Promise<Response> {
    return this.req('POST', `/v2/${repo}/blobs/uploads/?digest=${b.digest}`, {
      body: b.data,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
  }

  async pushManifest(repo: string, ref: string, m: Blob, type = 'application/vnd.oci.image.manifest.v1+json'): Promise<Response> {
    return this.req('PUT', `/v2/${repo}/manifests/${ref}`, { body: m.data, headers: { 'Content-Type': type } });
  }

  /** The OCI error codes of an error answer. */
  static async codes(res: Response): Promise<string[]> {
    const body = (await res.json()) as { errors?: { code: string }[] };
    return (body.errors ?? []).map((e) => e.code);
  }
}
