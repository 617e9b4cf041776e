import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config/index.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { LogRing } from '../fleet/log-ring.ts';
import { checkBrokerUrl } from '../mqtt/publisher.ts';

/** An invalid command line; the CLI exits with code 2. */
export class UsageError extends BvEdgeError {
  constructor(message: string) {
    super('usage', message);
  }
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

export function parseCommandLine(args: string[], options: OptionSpec) {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true });
  } catch (cause) {
    throw new UsageError(`${(cause as Error).message}. Run bv-edge --help for the options.`);
  }
}

export function configFrom(values: Record<string, unknown>): Config {
  if (typeof values.broker === 'string') {
    // Checked before any work, so a typo in the URL cannot leave a stored but failed scan.
    try {
      checkBrokerUrl(values.broker);
    } catch (cause) {
      throw new UsageError(`Invalid --broker: ${(cause as Error).message}`);
    }
  }
  return loadConfig({
    ...(values['data-dir'] !== undefined && { dataDir: values['data-dir'] as string }),
    ...(values['model-dir'] !== undefined && { modelDir: values['model-dir'] as string }),
    ...(values.broker !== undefined && { mqtt: { url: values.broker as string } }),
  });
}

/** Context the CLI passes to a command besides its arguments and the logger. */
export interface CommandContext {
  /** Recent log lines of this process; only `run` keeps them. */
  logLines: LogRing | null;
}
