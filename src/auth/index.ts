/**
 * Authentication and authorization, knowing nothing of HTTP: authenticators (htpasswd,
 * LDAP, bearer tokens, API keys, OpenID sessions, client certificates), the
 * access-control authorizer and the rate limiter. `api/guard.ts` applies them to requests.
 */
export type { Action, AuthMethod, AuthResult, Credentials, Identity, PeerCertificateFields, TokenAccess } from './types.ts';
export { ACTIONS, AuthInputError } from './types.ts';
export { AuthService, AuthState, type AuthServiceDeps } from './service.ts';
export { Authorizer, tokenGrantsCatalog } from './authorizer.ts';
export { globToRegExp, GlobSet } from './glob.ts';
export { API_KEY_PREFIX, ApiKeys, JsonFileApiKeyStore, type ApiKeyDetails, type ApiKeyRecord, type ApiKeyStore } from './apikeys.ts';
export { LOGIN_STATE_COOKIE, SESSION_COOKIE, SESSION_TTL_MS, SessionSigner } from './session.ts';
export type { LoginState } from './oidc.ts';
export { RateLimiter } from './ratelimit.ts';
export { redactCredentials } from './audit.ts';
