import { ERROR_CODES, type ErrorCode } from './codes.ts';

/** Options that refine how a {@link RegistryError} is answered. */
export interface RegistryErrorOptions {
  /** Machine-readable detail placed in the envelope's `detail` field. */
  detail?: unknown;
  /** HTTP status overriding the code's default (the spec asks for a few). */
  status?: number;
  /** Extra response headers, e.g. `Range` on a 416 for an upload. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * A typed domain error. Code everywhere throws these; only `toErrorResponse`
 * turns them into HTTP. Match on `code`, never on `message`.
 */
export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, options: RegistryErrorOptions = {}) {
    super(message ?? ERROR_CODES[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }
}

/** Narrowing helper that survives module duplication in bundles. */
export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError || (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'RegistryError');
}
