export { ERROR_CODES, type ErrorCode } from './codes.ts';
export { RegistryError, isRegistryError, type RegistryErrorOptions } from './errors.ts';
export { toErrorResponse, type ErrorResponse } from './envelope.ts';
