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

/** Creates the root logger; subsystems take `logger.child({ subsystem })`. */
export function createLogger(options: { level?: string; destination?: number } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.BV_EDGE_LOG_LEVEL ?? 'info',
      base: undefined,
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
}

/** Creates a logger that drops everything, for tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
