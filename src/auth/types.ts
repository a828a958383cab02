/**
 * The vocabulary of authentication and authorization, free of HTTP: who a caller is
 * (Identity), what they present (Credentials), and what they want to do (Action).
 * The API layer (api/guard.ts) turns requests into these and answers from the results.
 */

/** zot's accessControl actions. `detectManifestCollision` is a behaviour, not a right (see manifests). */
export type Action = 'read' | 'create' | 'update' | 'delete' | 'detectManifestCollision';

/** Every action, for `adminPolicy`-style "all" checks and validation. */
export const ACTIONS: readonly Action[] = ['read', 'create', 'update', 'delete', 'detectManifestCollision'];

/** How an identity was established. */
export type AuthMethod = 'htpasswd' | 'ldap' | 'apikey' | 'bearer' | 'session' | 'mtls';

/** One entry of a Docker token's `access` claim (distribution token spec). */
export interface TokenAccess {
  type: string;
  name: string;
  actions: string[];
}

/** An authenticated caller. Anonymous callers have no Identity at all. */
export interface Identity {
  readonly name: string;
  /** Groups from the directory / OpenID claims / API key owner, merged with static accessControl groups. */
  readonly groups: readonly string[];
  readonly method: AuthMethod;
  /** Bearer tokens: the `access` claims, which are the authority for what the token may do. */
  readonly tokenAccess?: readonly TokenAccess[];
  /** API keys: repository globs the key is limited to (empty = no limit beyond the owner's). */
  readonly keyScopes?: readonly string[];
}

/** What a request presented, already decoded from its headers by the API layer. */
export type Credentials =
  | { kind: 'basic'; user: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'session'; cookie: string }
  | { kind: 'certificate'; cert: PeerCertificateFields }
  | { kind: 'none' };

/** The fields of a verified client certificate that identity mapping may use (zot mtls). */
export interface PeerCertificateFields {
  /** Subject attributes, e.g. `{CN: 'alice', O: 'acme'}`. */
  readonly subject: Readonly<Record<string, string>>;
  /** The subject as text, e.g. `CN=alice,O=acme`. */
  readonly subjectText: string;
  readonly dnsNames: readonly string[];
  readonly emails: readonly string[];
  readonly uris: readonly string[];
}

/**
 * The outcome of authentication:
 * - `ok`: an identity;
 * - `anonymous`: no credentials were presented;
 * - `failed`: credentials were presented and rejected (`reason` is for logs, never for clients).
 */
export type AuthResult =
  | { kind: 'ok'; identity: Identity }
  | { kind: 'anonymous' }
  | { kind: 'failed'; reason: string; user?: string };

/** Thrown for a bad API-key request (caller error): the API layer answers 400. */
export class AuthInputError extends Error {
  override name = 'AuthInputError';
}
