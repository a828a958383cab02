import { RegistryError } from '../errors/index.ts';
import type { Handler, Reply } from '../http/types.ts';
import { MAX_MANIFEST_BYTES, looksLikeDigest, parseDigest } from '../oci/index.ts';
import type { ApiDeps } from './context.ts';
import { readSmallBody, repoOf } from './common.ts';

/**
 * `/v2/<name>/manifests/<reference>`: GET, HEAD, PUT, DELETE (distribution-spec
 * "Pulling manifests", "Pushing Manifests", "Deleting Manifests").
 */
export function manifestHandler(deps: ApiDeps): Handler {
  const { storage } = deps;
  return async (ctx) => {
    const repo = repoOf(ctx);
    const reference = ctx.params.reference ?? '';
    if (looksLikeDigest(reference)) parseDigest(reference);
    switch (ctx.method) {
      case 'GET':
      case 'HEAD': {
        let m = storage.manifests.get(repo, reference);
        if (deps.lookup) {
          await deps.lookup.beforeManifest(repo, reference, m);
          m = storage.manifests.get(repo, reference);
        }
        if (!m) {
          if (!storage.catalog.hasRepo(repo)) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: repo } });
          throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { reference } });
        }
        if (ctx.method === 'GET') storage.recordPull(repo, m.digest);
        const reply: Reply = {
          status: 200,
          headers: { 'Content-Type': m.mediaType, 'Docker-Content-Digest': m.digest, 'Content-Length': m.size, ETag: `"${m.digest}"` },
        };
        if (ctx.method === 'GET') reply.body = m.body;
        return reply;
      }
      case 'PUT': {
        const body = await readSmallBody(ctx, MAX_MANIFEST_BYTES);
        const extra = ctx.query.getAll('tag');
        const r = await storage.manifests.put(repo, reference, body, ctx.headers['content-type'], extra);
        const headers: Record<string, string> = {
          Location: `/v2/${repo}/manifests/${r.digest}`,
          'Docker-Content-Digest': r.digest,
        };
        if (r.subject) headers['OCI-Subject'] = r.subject;
        return { status: 201, headers };
      }
      case 'DELETE':
        await storage.manifests.delete(repo, reference);
        return { status: 202 };
      default:
        throw new RegistryError('METHOD_NOT_ALLOWED');
    }
  };
}
