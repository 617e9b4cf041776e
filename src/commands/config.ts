import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import {
  CONFIG_VERSION,
  readSecrets,
  renderExampleConfig,
  resolveConfig,
  type LoadedConfig,
} from '../config/index.ts';
import type { Logger } from '../core/log.ts';
import { UsageError } from './common.ts';

const USAGE =
  'Usage: bv-edge config check FILE | bv-edge config show [FILE] [--json] | ' +
  'bv-edge config defaults';

interface Output {
  write(text: string): unknown;
}

/**
 * Runs `bv-edge config ACTION`. `check FILE` validates a file with the environment applied and
 * reads the secret files that it names. `show` prints the effective config, and `defaults`
 * prints a complete documented file. Invalid config throws `config_invalid` (exit code 1),
 * which lists every problem.
 */
export async function configCommand(
  args: string[],
  logger: Logger,
  out: Output = process.stdout,
): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'check':
      return checkCommand(rest, logger, out);
    case 'show':
      return showCommand(rest, out);
    case 'defaults':
      parsePositionals(rest, {}, 0);
      out.write(renderExampleConfig());
      return 0;
    default:
      throw new UsageError(
        action === undefined
          ? `Missing config action. ${USAGE}`
          : `Unknown config action "${action}". ${USAGE}`,
      );
  }
}

async function checkCommand(args: string[], logger: Logger, out: Output): Promise<number> {
  const { positionals } = parsePositionals(args, {}, 1);
  const file = positionals[0];
  if (file === undefined) throw new UsageError(`Missing FILE. ${USAGE}`);
  const loaded = resolveConfig({ file });
  await readSecrets(loaded.config, logger.child({ subsystem: 'config' }));
  out.write(`${summary(loaded)}\n`);
  return 0;
}

function summary(loaded: LoadedConfig): string {
  const lines = [`${loaded.file}: valid (config version ${loaded.fileVersion}).`];
  for (const step of loaded.migrationSteps) {
    lines.push(
      `Migrated in memory, ${step}. Set version: ${CONFIG_VERSION} in the file to skip this step.`,
    );
  }
  if (loaded.envVariables.length > 0) {
    lines.push(`Environment overrides applied: ${loaded.envVariables.join(', ')}.`);
  }
  return lines.join('\n');
}

function showCommand(args: string[], out: Output): number {
  const { positionals, values } = parsePositionals(args, { json: { type: 'boolean' } }, 1);
  const loaded = resolveConfig(positionals[0] === undefined ? {} : { file: positionals[0] });
  const text =
    values.json === true
      ? `${JSON.stringify(loaded.config, null, 2)}\n`
      : stringify(loaded.config, { lineWidth: 0 });
  out.write(text);
  return 0;
}

function parsePositionals(
  args: string[],
  options: Record<string, { type: 'boolean' }>,
  maxPositionals: number,
) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (cause) {
    throw new UsageError(`${(cause as Error).message}. ${USAGE}`);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`Unexpected argument "${parsed.positionals[maxPositionals]}". ${USAGE}`);
  }
  return parsed;
}
