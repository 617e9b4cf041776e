import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Log fields whose values pino replaces with [redacted], as a second guard behind the Secret
 * type of src/config/secrets.ts: a password, token or key that reaches a log call by mistake.
 */
export const REDACTED_LOG_PATHS = [
  'password',
  'token',
  'secret',
  '*.password',
  '*.token',
  '*.secret',
  'headers.authorization',
  '*.headers.authorization',
];

/** A second place for log lines, e.g. the ring that serves the fleet's log-tail request. */
export interface LogCopy {
  write(line: string): void;
}

/**
 * Creates the root logger; subsystems take `logger.child({ subsystem })`. With `copy`, every line
 * also goes to it, already redacted.
 */
export function createLogger(
  options: { level?: string; destination?: number; copy?: LogCopy } = {},
): Logger {
  const level = options.level ?? process.env.BV_EDGE_LOG_LEVEL ?? 'info';
  const settings = {
    level,
    base: undefined,
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
  };
  const destination = pino.destination({ dest: options.destination ?? 2, sync: true });
  if (!options.copy) return pino(settings, destination);
  const streams = pino.multistream([
    { stream: destination, level: level as pino.Level },
    { stream: options.copy, level: level as pino.Level },
  ]);
  return pino(settings, streams);
}

/**
 * Returns a child logger whose lines carry `{ subsystem }`. A logger that already names a
 * subsystem is returned unchanged, so the caller's name stays. Pino would write a second
 * `subsystem` key into every line instead of replacing the first.
 */
export function subsystemLogger(logger: Logger, subsystem: string): Logger {
  if (typeof logger.bindings().subsystem === 'string') return logger;
  return logger.child({ subsystem });
}

/** Creates a logger that drops everything, for tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
