/**
 * Keeping secrets out of logs: query strings of auth endpoints may carry OAuth codes and
 * states; API keys and passwords never reach a log line because only identities (names)
 * are logged, never credentials.
 */
const SECRET_PARAMS = /(^|&)(code|state|token|access_token|id_token|password|client_secret)=[^&]*/gi;

/** A raw query string with secret-bearing parameters' values replaced. */
export function redactCredentials(rawQuery: string): string {
  return rawQuery.replace(SECRET_PARAMS, '$1$2=[redacted]');
}
