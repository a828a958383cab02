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
        if (!m) {
          // Right after start the index may still be catching up with the disk.
          await storage.settled();
          m = storage.manifests.get(repo, reference);
        }
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
        // zot's detectManifestCollision: a caller given that action may not delete by
        // digest a manifest that several tags still name (409).
        if (looksLikeDigest(reference) && deps.guard?.can(ctx, 'detectManifestCollision', repo) && tagsNaming(deps, repo, reference) > 1) {
          throw new RegistryError('MANIFEST_INVALID', 'several tags point at this manifest', { status: 409, detail: { reference } });
        }
        await storage.manifests.delete(repo, reference);
        return { status: 202 };
      default:
        throw new RegistryError('METHOD_NOT_ALLOWED');
    }
  };
}

/** How many tags of `repo` name the manifest `digest`. */
function tagsNaming(deps: ApiDeps, repo: string, digest: string): number {
  let count = 0;
  let last: string | undefined;
  for (;;) {
    const page = deps.storage.catalog.tags(repo, 1000, last);
    for (const tag of page.items) if (deps.storage.manifests.get(repo, tag)?.digest === digest) count++;
    if (!page.more || page.items.length === 0) return count;
    last = page.items[page.items.length - 1];
  }
}
