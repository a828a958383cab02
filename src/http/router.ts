/**
 * Route table compiler: turns `Route[]` (routes as data) into a matcher.
 *
 * The engines register one catch-all handler and ask this matcher, so routing
 * behaves identically on uWS and node:http and stays testable without sockets.
 * A miss distinguishes "no route has this path" (404 NOT_FOUND) from "a route
 * has this path but not this method" (405 METHOD_NOT_ALLOWED with `Allow`,
 * RFC 9110 §15.5.6).
 */
import type { Route } from './types.ts';

/** The outcome of matching one request. */
export type RouteMatch =
  | { readonly kind: 'hit'; readonly route: Route; readonly params: Record<string, string> }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] };

/** A compiled route table. */
export interface Router {
  match(method: string, path: string): RouteMatch;
  readonly routes: readonly Route[];
}

interface CompiledRoute {
  readonly route: Route;
  readonly methods: ReadonlySet<string>;
}

/**
 * Compile and validate a route table. Throws on a malformed route so a bad
 * table fails at startup, not on the first request that happens to hit it.
 */
export function compileRoutes(routes: readonly Route[]): Router {
  const compiled: CompiledRoute[] = routes.map((route) => {
    validateRoute(route);
    return { route, methods: new Set(route.methods.map((m) => m.toUpperCase())) };
  });

  // Recent outcomes by method and path: clients repeat the same URLs (a fleet pulling one
  // tag), and the linear regex scan was a tenth of a manifest HEAD's CPU. Outcomes are
  // frozen, so a handler cannot change what the next request gets. Cleared when full.
  // Keyed by method, then path: joining the two into one key cost a string concatenation
  // and its hashing per request.
  const recent = new Map<string, Map<string, RouteMatch>>();
  let remembered = 0;
  const scan = (method: string, path: string): RouteMatch => {
    const upper = method.toUpperCase();
    let allow: Set<string> | undefined;
    // Routes are few (tens); a linear scan in declaration order keeps the
    // precedence rule obvious: the first route whose pattern and method match wins.
    for (const c of compiled) {
      const m = c.route.pattern.exec(path);
      if (!m) continue;
      if (c.methods.has(upper)) return { kind: 'hit', route: c.route, params: Object.freeze(paramsOf(m)) };
      allow ??= new Set();
      for (const x of c.methods) allow.add(x);
    }
    return allow ? { kind: 'method-not-allowed', allow: Object.freeze([...allow].sort()) } : { kind: 'not-found' };
  };
  return {
    routes,
    match(method: string, path: string): RouteMatch {
      // Long paths are matched afresh: the cache's memory stays small (2,048 keys of at
      // most ~520 characters) whatever a client sends.
      if (path.length > 512) return scan(method, path);
      let byPath = recent.get(method);
      let m = byPath?.get(path);
      if (m === undefined) {
        m = Object.freeze(scan(method, path));
        if (remembered >= 2048) {
          recent.clear();
          remembered = 0;
          byPath = undefined;
        }
        if (byPath === undefined) recent.set(method, (byPath = new Map()));
        byPath.set(path, m);
        remembered++;
      }
      return m;
    },
  };
}

/** Named groups become params; optional groups that did not take part are left out. */
function paramsOf(m: RegExpExecArray): Record<string, string> {
  const params: Record<string, string> = {};
  if (m.groups) {
    for (const [k, v] of Object.entries(m.groups)) if (v !== undefined) params[k] = v;
  }
  return params;
}

function validateRoute(route: Route): void {
  const where = `route "${route.name}"`;
  if (!route.name) throw new Error('every route needs a name (used in logs and metrics)');
  if (route.methods.length === 0) throw new Error(`${where} has no methods`);
  const p = route.pattern;
  // `g`/`y` make exec() stateful through lastIndex: a second request would
  // start matching mid-string. Refuse them instead of resetting lastIndex.
  if (p.global || p.sticky) throw new Error(`${where}: pattern must not use the g or y flag`);
  if (!p.source.startsWith('^') || !p.source.endsWith('$')) {
    throw new Error(`${where}: pattern must be anchored with ^...$ (got /${p.source}/)`);
  }
  if (typeof route.handler !== 'function') throw new Error(`${where} has no handler`);
}
