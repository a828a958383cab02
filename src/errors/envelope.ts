import { ERROR_CODES } from './codes.ts';
import { isRegistryError, RegistryError } from './errors.ts';

/** The wire form of an error answer: status, headers and the OCI JSON envelope. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** True when the error was not a RegistryError: worth logging with its stack. */
  unexpected: boolean;
}

/** Node's filesystem errors that mean "no room"; they must never become a 500. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/**
 * The one place errors become HTTP: `{"errors":[{code,message,detail}]}`
 * (distribution-spec "Error Codes"). Anything unknown is an INTERNAL 500 whose
 * message reveals nothing of the cause.
 */
export function toErrorResponse(err: unknown): ErrorResponse {
  let e: RegistryError;
  let unexpected = false;
  if (isRegistryError(err)) {
    e = err;
  } else if (typeof err === 'object' && err !== null && NO_SPACE.has(String((err as NodeJS.ErrnoException).code))) {
    e = new RegistryError('INSUFFICIENT_STORAGE');
  } else {
    e = new RegistryError('INTERNAL', ERROR_CODES.INTERNAL.message);
    unexpected = true;
  }
  const entry: Record<string, unknown> = { code: e.code, message: e.message };
  if (e.detail !== undefined) entry.detail = e.detail;
  return {
    status: e.status,
    headers: { 'Content-Type': 'application/json', ...e.headers },
    body: JSON.stringify({ errors: [entry] }),
    unexpected,
  };
}
