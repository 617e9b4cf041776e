import type { Logger } from '../core/log.ts';
import { runDemo } from '../demo.ts';
import { configFrom, parseCommandLine, UsageError } from './common.ts';

export async function demoCommand(args: string[], logger: Logger): Promise<number> {
  const { values } = parseCommandLine(args, {
    serve: { type: 'boolean' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
  });
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`Invalid --port "${String(values.port)}": expected 0–65535.`);
  }
  const config = configFrom(values);
  return runDemo({ config, logger, serve: values.serve === true, port, out: process.stdout });
}
