import { RegistryError } from '../errors/index.ts';
import type { Handler, Reply } from '../http/types.ts';
import { parseDigest, parseRange } from '../oci/index.ts';
import type { ApiDeps } from './context.ts';
import { repoOf } from './common.ts';

/**
 * `/v2/<name>/blobs/<digest>`: GET (with a single `Range`, 206/416), HEAD, DELETE
 * (distribution-spec "Pulling blobs", "Deleting Blobs"). Bodies stream from the file.
 */
export function blobHandler(deps: ApiDeps): Handler {
  const { storage } = deps;
  return async (ctx): Promise<Reply> => {
    const repo = repoOf(ctx);
    const digest = parseDigest(ctx.params.digest ?? '').value;
    const unknown = () => new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
    switch (ctx.method) {
      case 'HEAD': {
        const st = await storage.blobs.stat(repo, digest);
        if (!st) throw unknown();
        return { status: 200, headers: { 'Content-Length': st.size, 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' } };
      }
      case 'GET': {
        const st = await storage.blobs.stat(repo, digest);
        if (!st) throw unknown();
        const range = parseRange(ctx.headers.range, st.size);
        if (range === 'unsatisfiable') {
          throw new RegistryError('RANGE_INVALID', undefined, { headers: { 'Content-Range': `bytes */${st.size}` }, detail: { size: st.size } });
        }
        const read = await storage.blobs.open(repo, digest, range);
        if (!read) throw unknown();
        const headers: Record<string, string | number> = {
          'Content-Length': read.length,
          'Content-Type': 'application/octet-stream',
          'Docker-Content-Digest': digest,
          'Accept-Ranges': 'bytes',
        };
        if (range) headers['Content-Range'] = `bytes ${range.start}-${range.start + read.length - 1}/${read.size}`;
        // A digest names immutable bytes: concurrent pulls of this blob share their reads.
        return { status: range ? 206 : 200, headers, body: { stream: read.stream, length: read.length, shareKey: digest } };
      }
      case 'DELETE':
        await storage.blobs.delete(repo, digest);
        return { status: 202, headers: { 'Docker-Content-Digest': digest } };
      default:
        throw new RegistryError('METHOD_NOT_ALLOWED');
    }
  };
}
