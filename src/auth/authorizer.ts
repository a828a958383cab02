import type { AccessControlConfig, AccessPolicy, PolicyGroup } from '../config/types.ts';
import { GlobSet, globToRegExp } from './glob.ts';
import type { Action, Identity } from './types.ts';

/**
 * zot's access-control semantics (`http.accessControl`, zot pkg/api/authz.go):
 * - the LONGEST repository glob matching the name decides (`**` is the usual fallback);
 * - in it, a policy grants when it lists the user (or one of the user's groups) and the
 *   action; otherwise `defaultPolicy` applies to any authenticated user and
 *   `anonymousPolicy` to anonymous callers;
 * - `adminPolicy` (users/groups + actions) applies to every repository on top of that;
 * - groups come from the identity (LDAP, OpenID, API key owner) plus the static `groups`.
 * Without an accessControl section every authenticated identity may do everything except
 * `detectManifestCollision` (a behaviour that has to be asked for) and anonymous callers
 * may do nothing.
 */
export class Authorizer {
  private readonly repos: GlobSet<PolicyGroup>;
  private readonly staticGroups = new Map<string, string[]>();
  private readonly admin: AccessPolicy | undefined;
  /** True when some repository grants anonymous callers anything (zot lets them past authentication). */
  readonly anonymousAllowed: boolean;

  constructor(private readonly config: AccessControlConfig | undefined) {
    this.repos = new GlobSet(config?.repositories ?? {});
    this.admin = config?.adminPolicy;
    for (const [group, { users }] of Object.entries(config?.groups ?? {})) {
      for (const u of users) this.staticGroups.set(u, [...(this.staticGroups.get(u) ?? []), group]);
    }
    this.anonymousAllowed = this.repos.values().some((pg) => pg.anonymousPolicy.length > 0);
  }

  /** Whether accessControl is configured at all. */
  get configured(): boolean {
    return this.config !== undefined;
  }

  /** The identity's groups merged with the static groups naming it. */
  groupsOf(identity: Identity): string[] {
    const extra = this.staticGroups.get(identity.name);
    return extra ? [...new Set([...identity.groups, ...extra])] : [...identity.groups];
  }

  /** May `identity` (undefined = anonymous) perform `action` on repository `repo`? */
  can(identity: Identity | undefined, action: Action, repo: string): boolean {
    if (identity?.keyScopes && identity.keyScopes.length > 0 && !identity.keyScopes.some((g) => globToRegExp(g).test(repo))) return false;
    if (identity?.tokenAccess && !tokenGrants(identity, action, repo)) return false;
    if (!this.config) return identity !== undefined && action !== 'detectManifestCollision';
    const groups = identity ? this.groupsOf(identity) : [];
    const pg = this.repos.longest(repo);
    if (pg && permitted(pg, identity?.name, groups, action)) return true;
    if (identity && this.admin && this.admin.conditions.length === 0 && this.admin.actions.includes(action)) {
      if (this.admin.users.includes(identity.name) || groups.some((g) => this.admin!.groups.includes(g))) return true;
    }
    return false;
  }
}

function permitted(pg: PolicyGroup, user: string | undefined, groups: string[], action: Action): boolean {
  if (user !== undefined) {
    for (const p of pg.policies) {
      // CEL conditions are not evaluated by skiff; a conditional policy never applies (fail closed).
      if (!p.actions.includes(action) || p.conditions.length > 0) continue;
      if (p.users.includes(user) || p.groups.some((g) => groups.includes(g))) return true;
    }
    return pg.defaultPolicy.includes(action);
  }
  return pg.anonymousPolicy.includes(action);
}

/**
 * Docker token `access` claims → accessControl actions: `pull` reads, `push` creates and
 * updates, `delete` deletes, `*` does everything (zot maps methods the same way).
 */
function tokenGrants(identity: Identity, action: Action, repo: string): boolean {
  const wanted = action === 'read' ? 'pull' : action === 'delete' ? 'delete' : action === 'detectManifestCollision' ? null : 'push';
  if (wanted === null) return true; // a behaviour, decided by accessControl (or off without it)
  return (identity.tokenAccess ?? []).some(
    (a) => a.type === 'repository' && a.name === repo && (a.actions.includes(wanted) || a.actions.includes('*')),
  );
}

/** True when a token grants `registry:catalog:*` (the distribution token spec's catalog scope). */
export function tokenGrantsCatalog(identity: Identity): boolean {
  return (identity.tokenAccess ?? []).some((a) => a.type === 'registry' && a.name === 'catalog' && (a.actions.includes('*') || a.actions.includes('pull')));
}
