/**
 * The configuration module: typed, zot-compatible config (JSON or YAML), defaults in one
 * place, unknown keys rejected with a path-qualified message, `SKIFF_*` env overrides.
 */
export type * from './types.ts';
export { loadConfig, loadConfigObject, parseConfigText, type LoadOptions } from './load.ts';
export { verifyConfig, type VerifyResult } from './verify.ts';
export { ConfigError, isConfigError, type ConfigErrorCode, type ConfigIssue } from './errors.ts';
export { DEFAULTS, DIST_SPEC_VERSION, EMBEDDED_DEFAULT_CONFIG, EMBEDDED_SOURCE } from './defaults.ts';
export { parseDuration, formatDuration, parseGcTimeWindow, inGcTimeWindow, msUntilGcTimeWindow } from './duration.ts';
export { FEATURES, SUPPORTED_FEATURES, isFeatureSupported, findUnsupported, type FeatureEntry } from './features.ts';
export { ENV_PREFIX, applyEnvOverrides } from './env.ts';
export { CONFIG_SCHEMA, type SchemaNode } from './schema.ts';
