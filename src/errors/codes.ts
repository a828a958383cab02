/**
 * The one registry of error codes the registry speaks.
 *
 * OCI distribution-spec v1.1 "Error Codes" table (code-1 .. code-14) plus the few
 * zot adds. Each code has its default HTTP status; a throw site may override the
 * status where the spec asks for a different one (e.g. 416 for an out-of-order chunk).
 */
export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 404, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  // Not in the spec's table, but needed to answer every failure in the same envelope.
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large' },
  INSUFFICIENT_STORAGE: { status: 507, message: 'not enough free space to store the content' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  NOT_FOUND: { status: 404, message: 'not found' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  INTERNAL: { status: 500, message: 'internal server error' },
} as const;

/** A stable error code; the `code` field of the `{"errors":[...]}` envelope. */
export type ErrorCode = keyof typeof ERROR_CODES;
