/**
 * The HTTP module's public surface. Handlers import types from here (or from
 * ./types.ts); only `app/` starts servers.
 */
export type {
  BodyOptions,
  Handler,
  HttpServer,
  PeerCertificate,
  Reply,
  RequestContext,
  Route,
  ServerHooks,
  ServerOptions,
  StreamBody,
  TlsOptions,
} from './types.ts';
export { startServer } from './server.ts';
export { compileRoutes, type RouteMatch, type Router } from './router.ts';
export { UWS_MAX_CONTENT_LENGTH } from './uws-limits.ts';
