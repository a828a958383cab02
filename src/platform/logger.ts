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
      timestamp: isoTime,
      redact: { paths: ['authorization', 'headers.authorization', 'password', '*.password'], censor: '[redacted]' },
    },
    dest,
  );
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * pino's `isoTime` field (zot's log lines carry ISO times too), built from the UTC getters.
 * V8's toISOString works out the local time zone on its first call, and that loads ICU's
 * time-zone data: 0.55 MiB of the node binary's pages held for the life of the process
 * (measured with an empty script), for a string that is UTC anyway.
 */
export function isoTime(now: number = Date.now()): string {
  const d = new Date(now);
  const ms = d.getUTCMilliseconds();
  return `,"time":"${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${ms < 100 ? (ms < 10 ? '00' : '0') : ''}${ms}Z"`;
}

/** A logger that drops everything (tests, offline commands that print their own output). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
