import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/** Logger settings, the subset of zot's `log` section that shapes the logger. */
export interface LoggerOptions {
  level?: string;
  /** File path; stdout when absent. */
  output?: string;
  /** Base fields added to every line. */
  base?: Record<string, unknown>;
}

/**
 * JSON logs with pino. Writes to a file go through sonic-boom asynchronously so logging
 * never blocks a request; `mkdir` lets `log.output` name a directory that does not exist yet.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.output
    ? pino.destination({ dest: opts.output, mkdir: true, sync: false })
    : pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: opts.level ?? 'info',
      base: opts.base ?? { app: 'skiff' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['authorization', 'headers.authorization', 'password', '*.password'], censor: '[redacted]' },
    },
    dest,
  );
}

/** A logger that drops everything (tests, offline commands that print their own output). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
