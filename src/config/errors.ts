/** Stable codes of configuration failures; match on these, never on the message. */
export type ConfigErrorCode =
  /** The file does not exist or cannot be read. */
  | 'CONFIG_NOT_FOUND'
  /** The file is not valid JSON / YAML, or is empty. */
  | 'CONFIG_PARSE'
  /** The content violates the schema: unknown key, wrong type, bad value. */
  | 'CONFIG_INVALID';

/** One problem found in a config, with the key path it is about (`''` for the file as a whole). */
export interface ConfigIssue {
  /** Dotted key path, e.g. `storage.gcDelay` or `storage.retention.policies[0].keepTags`. */
  path: string;
  /** Full sentence, path included, e.g. `http.port: expected a port number 1-65535, got "abc"`. */
  message: string;
}

/**
 * A configuration that cannot be used. Every issue found is collected (not just the first),
 * so one run of `skiff verify` shows them all; `path` is the first issue's key path.
 */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly path: string;
  /** Where the config came from: a file path, or `'<embedded default>'`. */
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(code: ConfigErrorCode, source: string, issues: ConfigIssue[], options?: { cause?: unknown }) {
    const lines = issues.map((i) => i.message);
    const head = `invalid config ${source}`;
    super(lines.length === 1 ? `${head}: ${lines[0]}` : `${head}:\n  ${lines.join('\n  ')}`, options);
    this.name = 'ConfigError';
    this.code = code;
    this.source = source;
    this.issues = issues;
    this.path = issues[0]?.path ?? '';
  }
}

/** Narrowing helper that survives module duplication in bundles. */
export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError || (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'ConfigError');
}
