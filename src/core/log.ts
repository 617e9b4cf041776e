import { pino, type Logger } from 'pino';

export type { Logger };

/** Creates the root logger; subsystems take `logger.child({ subsystem })`. */
export function createLogger(options: { level?: string; destination?: number } = {}): Logger {
  return pino(
    { level: options.level ?? process.env.BV_EDGE_LOG_LEVEL ?? 'info', base: undefined },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
}

/** A logger that drops everything, for tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
