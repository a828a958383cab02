import type { Handler } from '../http/types.ts';
import { MediaType, parseDigest } from '../oci/index.ts';
import type { ApiDeps } from './context.ts';
import { repoOf } from './common.ts';

/**
 * `GET /v2/<name>/referrers/<digest>[?artifactType=]` (distribution-spec "Listing
 * Referrers"): always an image index, empty for an unknown repository or subject.
 */
export function referrersHandler(deps: ApiDeps): Handler {
  return async (ctx) => {
    const repo = repoOf(ctx);
    const digest = parseDigest(ctx.params.digest ?? '').value;
    if (deps.lookup) await deps.lookup.beforeReferrers(repo, digest);
    const artifactType = ctx.query.get('artifactType') ?? undefined;
    const manifests = deps.storage.catalog.referrers(repo, digest, artifactType || undefined);
    const headers: Record<string, string> = { 'Content-Type': MediaType.OciIndex };
    if (artifactType) headers['OCI-Filters-Applied'] = 'artifactType';
    return { status: 200, headers, body: JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }) };
  };
}
