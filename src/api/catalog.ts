import { RegistryError } from '../errors/index.ts';
import type { Handler } from '../http/types.ts';
import type { ApiDeps } from './context.ts';
import { json, nextLink, pageParams, repoOf } from './common.ts';

/**
 * `GET /v2/_catalog?n=&last=` (distribution-spec catalog listing, Link pagination). With
 * auth, only repositories the caller may read are listed (zot); pages are filled from
 * further storage pages so `n` still means `n` visible entries.
 */
export function catalogHandler(deps: ApiDeps): Handler {
  return (ctx) => {
    const { n, last } = pageParams(ctx);
    const guard = deps.guard;
    if (!guard) {
      const page = deps.storage.catalog.repositories(n, last);
      return json(200, { repositories: page.items }, nextLink('/v2/_catalog', page, n));
    }
    const want = n ?? Infinity;
    const items: string[] = [];
    let cursor = last;
    let more = false;
    for (;;) {
      const page = deps.storage.catalog.repositories(256, cursor);
      for (const repo of page.items) {
        if (!guard.listable(ctx, repo)) continue;
        if (items.length >= want) {
          more = true;
          break;
        }
        items.push(repo);
      }
      if (more || !page.more || page.items.length === 0) break;
      cursor = page.items[page.items.length - 1];
    }
    return json(200, { repositories: items }, nextLink('/v2/_catalog', { items, more }, n));
  };
}

/** `GET /v2/<name>/tags/list?n=&last=` (distribution-spec "Listing Tags"). */
export function tagsHandler(deps: ApiDeps): Handler {
  return async (ctx) => {
    const repo = repoOf(ctx);
    if (!deps.storage.catalog.hasRepo(repo)) await deps.storage.settled();
    if (!deps.storage.catalog.hasRepo(repo)) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: repo } });
    const { n, last } = pageParams(ctx);
    const page = deps.storage.catalog.tags(repo, n, last);
    return json(200, { name: repo, tags: page.items }, nextLink(`/v2/${repo}/tags/list`, page, n));
  };
}
