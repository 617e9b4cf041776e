import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.ts';
import type { Logger } from '../core/log.ts';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../inference/engine.ts';
import { validateBundle, type ValidationReport } from '../inference/validate.ts';
import { formatViolation } from '../inference/violation.ts';
import { UsageError } from './common.ts';
import { BUNDLE_USAGE, bundleCommand } from './model-bundles.ts';

const USAGE =
  'Usage: bv-edge model validate DIR [--providers LIST] [--fp16] [--json] ' +
  '(LIST: comma-separated tensorrt, cuda, cpu; default the configured providers)';

/**
 * `bv-edge model SUBCOMMAND`. `validate DIR` checks a model bundle against the contract and
 * prints one line per violation, with exit codes 0 valid, 1 violations found and 2 invalid
 * command line. The archive and bundle-store subcommands are in model-bundles.ts.
 */
export async function modelCommand(args: string[], logger: Logger): Promise<number> {
  const [subcommand, ...rest] = args;
  const bundle = subcommand === undefined ? null : bundleCommand(subcommand, rest, logger);
  if (bundle) return bundle;
  if (subcommand !== 'validate') {
    throw new UsageError(
      `Unknown model subcommand "${subcommand ?? ''}"; expected validate, pack, sign, keygen, ` +
        `install, list, activate or rollback. ${USAGE}\n${BUNDLE_USAGE}`,
    );
  }
  const { dir, providers, fp16, json } = parseValidateArgs(rest);
  // Each rejected output becomes a violation line, so the engine's own warnings would repeat it.
  const quiet = logger.child({ subsystem: 'validate' }, { level: 'error' });
  const report = await validateBundle(dir, {
    providers,
    logger: quiet,
    ...(fp16 && { tensorrt: { fp16 } }),
  });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.violations.length === 0 ? 0 : 1;
}

function parseValidateArgs(args: string[]): {
  dir: string;
  providers: ExecutionProvider[];
  fp16: boolean;
  json: boolean;
} {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        providers: { type: 'string' },
        fp16: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
  } catch (cause) {
    throw new UsageError(`${(cause as Error).message}. ${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    throw new UsageError(`Expected one bundle folder, got ${positionals.length}. ${USAGE}`);
  }
  return {
    dir: resolve(positionals[0]!),
    providers: parseProviders(values.providers),
    fp16: values.fp16 ?? false,
    json: values.json ?? false,
  };
}

function parseProviders(text: string | undefined): ExecutionProvider[] {
  if (text === undefined) return [...loadConfig().providers];
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(name)) {
      throw new UsageError(
        `Invalid --providers "${text}": ${name || '(empty)'} is not one of ${EXECUTION_PROVIDERS.join(', ')}.`,
      );
    }
  }
  return names as ExecutionProvider[];
}

function formatReport(report: ValidationReport): string {
  const lines = report.violations.map(formatViolation);
  const { manifest } = report;
  const name = manifest ? `${manifest.name} ${manifest.version} (${manifest.intendedUse})` : '';
  if (lines.length > 0) {
    const plural = lines.length === 1 ? '' : 's';
    lines.push(`${report.dir}: ${lines.length} violation${plural} of the model bundle contract`);
    if (!report.ranTestVector) {
      lines.push('The test vector was not run; fix the violations above first.');
    }
    return `${lines.join('\n')}\n`;
  }
  const providers = Object.entries(report.providers)
    .map(([model, provider]) => `${model} on ${provider}`)
    .join(', ');
  return (
    `${report.dir}: valid bundle ${name}\n` +
    `Checked the manifest, every checksum, opset ${manifest?.onnxOpset}, the inputs and outputs ` +
    `of every model, and the test vector (${providers}).\n`
  );
}
