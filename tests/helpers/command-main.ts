// Runs one subcommand outside src/cli.ts, for commands not registered there yet:
//   node --import tsx tests/helpers/command-main.ts MODULE EXPORT [ARGS...]
// It reports errors and sets the exit code as src/cli.ts does.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { UsageError } from '../../src/commands/common.ts';
import { BvEdgeError } from '../../src/core/errors.ts';
import { createLogger, type Logger } from '../../src/core/log.ts';

type Command = (args: string[], logger: Logger) => Promise<number>;

async function main(argv: string[]): Promise<number> {
  const [modulePath, exportName, ...args] = argv;
  if (modulePath === undefined || exportName === undefined) {
    process.stderr.write('usage: command-main.ts MODULE EXPORT [ARGS...]\n');
    return 2;
  }
  const module = (await import(pathToFileURL(resolve(modulePath)).href)) as Record<string, unknown>;
  const command = module[exportName];
  if (typeof command !== 'function') {
    process.stderr.write(`${modulePath} has no function export ${exportName}\n`);
    return 2;
  }
  const logger = createLogger({ level: process.env.BV_EDGE_LOG_LEVEL ?? 'warn' });
  try {
    return await (command as Command)(args, logger);
  } catch (error) {
    if (!(error instanceof BvEdgeError)) throw error;
    process.stderr.write(`bv-edge: ${error.message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
