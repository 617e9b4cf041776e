import { BvEdgeError } from './core/errors.ts';
import { VIEW_NAMES } from './core/image.ts';
import { createLogger, type Logger } from './core/log.ts';
import { UsageError } from './commands/common.ts';
import { anhCommand } from './commands/anh.ts';
import { ANH_OPTIONS_HELP } from './commands/anh-options.ts';
import { configCommand } from './commands/config.ts';
import { demoCommand } from './commands/demo.ts';
import { fleetCommand } from './commands/fleet.ts';
import { labelCommand } from './commands/label.ts';
import { modelCommand } from './commands/model.ts';
import { runCommand } from './commands/run.ts';
import { scanCommand } from './commands/scan.ts';
import { LogRing } from './fleet/log-ring.ts';
import { LOG_RING_LINES } from './fleet/settings.ts';

const USAGE = `Usage:
  bv-edge scan --view VIEW=FILE ... --height-cm N --weight-kg N --sex female|male [options]
  bv-edge demo [--serve] [--port N]
  bv-edge run [--config FILE] [--data-dir DIR]
  bv-edge config check FILE | show [FILE] [--json] | defaults
  bv-edge model validate DIR [--providers LIST] [--fp16] [--json]
  bv-edge model pack DIR --out FILE [--key KEY] | sign FILE --key KEY [--out FILE]
  bv-edge model keygen --out PREFIX
  bv-edge model install FILE [--activate] | list [--json] | activate VERSION | rollback
  bv-edge anh --hb-before N --hb-after N --unit U --withdrawn-ml N [options]
  bv-edge label --case-id ID --entered-by NAME --hb-before N --hb-after N --unit U ... [options]
  bv-edge fleet devices | status DEVICE | request DEVICE COMMAND [JSON] | watch [DEVICE]

scan options:
  --view VIEW=FILE     clip of one view; VIEW is one of ${VIEW_NAMES.join(', ')}; repeat per view
  --height-cm N        patient height, cm
  --weight-kg N        patient weight, kg
  --sex female|male    patient sex
  --age N              patient age, years
  --hb N               preoperative hemoglobin, in --hb-unit (for the study-population check)
  --hb-unit U          g/dL (default), g/L or mmol/L
  --seed VIEW=X,Y      a point inside the vessel lumen, in pixels of the source frame
  --depth-cm VIEW=N    imaging depth of the view, cm (sets mm per pixel; defaults per view)
  --case-id ID         pseudonymous case id; never a name or MRN (default: generated)
  --json               print one JSON object instead of the summary
  --broker URL         MQTT broker (default mqtt://127.0.0.1:1883)
  --data-dir DIR       database folder (default var/ in the checkout, or BV_EDGE_HOME)
  --model-dir DIR      model bundle folder (default models/reference)

demo options:
  --serve              keep the status page up on http://127.0.0.1:PORT until Ctrl-C
  --port N             status page port (default 8080)

model bundle options (pack, sign and keygen are for the ML team; install, list, activate and
rollback change this cart's bundle store, and a running daemon switches at its next start):
  --out FILE|PREFIX    the archive to write, or the key files PREFIX.key and PREFIX.pub
  --key KEY            ed25519 private key (PEM) that signs the archive
  --activate           install: make the bundle active once installed
  --config FILE        config file with models.trustedKeys and the bundles folder

anh and label options (anh prints the ANH blood-volume label; label also stores it against a
scanned case and queues the training record):
${ANH_OPTIONS_HELP}  --case-id ID           label only: the scanned case
  --entered-by NAME      label only: who entered the values (kept in the audit log on the cart)

fleet (the engineer's console over the fleet's MQTT broker): bv-edge fleet --help lists its options
`;

type Command = (args: string[], logger: Logger) => Promise<number>;

/** Subcommands by name; each parses its own options and returns the exit code. */
const COMMANDS: Record<string, Command> = {
  scan: scanCommand,
  demo: demoCommand,
  anh: anhCommand,
  label: labelCommand,
  run: runCommand,
  model: modelCommand,
  config: configCommand,
  fleet: fleetCommand,
};

/** The daemon logs its starts, stops and retries; one-shot commands keep stderr to warnings. */
const DEFAULT_LOG_LEVEL: Record<string, string> = { run: 'info' };

/** Exit codes: 0 done, 1 the command failed, 2 the command line is invalid. */
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const level = process.env.BV_EDGE_LOG_LEVEL ?? DEFAULT_LOG_LEVEL[name ?? ''] ?? 'warn';
  // Only the daemon keeps its recent log lines, for the fleet's log-tail request.
  const logLines = name === 'run' ? new LogRing(LOG_RING_LINES) : null;
  const logger = createLogger({ level, ...(logLines && { copy: logLines }) });
  try {
    if (name === undefined || name === '--help' || name === 'help') {
      process.stdout.write(USAGE);
      return name === undefined ? 2 : 0;
    }
    const command = COMMANDS[name];
    // The fleet console lists its own options; every other command shares this summary.
    if (
      command &&
      command !== fleetCommand &&
      rest.some((arg) => arg === '--help' || arg === '-h')
    ) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (!command) {
      throw new UsageError(
        `Unknown command "${name}". Use one of: ${Object.keys(COMMANDS).join(', ')}.`,
      );
    }
    if (command === runCommand) return await runCommand(rest, logger, { logLines });
    return await command(rest, logger);
  } catch (error) {
    return reportError(error, logger);
  }
}

/** Error codes that mean the command line itself is invalid. */
const USAGE_ERROR_CODES = new Set(['invalid_covariates', 'missing_views', 'duplicate_view']);

function reportError(error: unknown, logger: Logger): number {
  if (error instanceof BvEdgeError) {
    process.stderr.write(`bv-edge: ${error.message}\n`);
    logger.debug({ err: error }, 'command failed');
    return error instanceof UsageError || USAGE_ERROR_CODES.has(error.code) ? 2 : 1;
  }
  logger.error({ err: error }, 'command failed with an unexpected error');
  process.stderr.write(`bv-edge: unexpected error: ${(error as Error).message}\n`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bv-edge: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
