import { loadConfig, readSecrets, type Config } from '../config/index.ts';
import { CaptureService } from '../capture/index.ts';
import type { Logger } from '../core/log.ts';
import { Daemon, type DaemonOptions } from '../daemon.ts';
import type { LogRing } from '../fleet/log-ring.ts';
import { acquireInstanceLock, SystemdNotifier } from '../ops/index.ts';
import { WorkflowSettingsSchema, type WorkflowSettings } from '../workflow/settings.ts';
import { parseCommandLine, type CommandContext } from './common.ts';

export interface RunDaemonOptions extends DaemonOptions {
  /** Stream for the one start-up line; default stdout. */
  out?: NodeJS.WritableStream;
  /** Tells systemd about readiness and shutdown; nothing is sent when left out. */
  notifier?: SystemdNotifier;
}

/**
 * Runs the daemon until SIGINT or SIGTERM: `bv-edge run [--config FILE]`. Under systemd
 * (Type=notify) it sends READY=1 once the status page serves, WATCHDOG=1 from the start, and
 * STOPPING=1 when a stop begins.
 */
export async function runCommand(
  args: string[],
  logger: Logger,
  context: CommandContext = { logLines: null },
): Promise<number> {
  const { values } = parseCommandLine(args, {
    config: { type: 'string' },
    'data-dir': { type: 'string' },
  });
  // Watchdog pings start before capture and the models load, so WatchdogSec covers start-up too.
  const notifier = new SystemdNotifier({ logger: logger.child({ subsystem: 'systemd' }) });
  notifier.startWatchdog();
  try {
    const configFile = values.config as string | undefined;
    const dataDir = values['data-dir'] as string | undefined;
    return await runWithCapture({ configFile, dataDir }, logger, notifier, context.logLines);
  } finally {
    notifier.stopWatchdog();
    await notifier.flush();
  }
}

/** The command line of `run`: the config file, and a data folder that overrides the file's. */
interface RunArguments {
  configFile: string | undefined;
  dataDir: string | undefined;
}

async function runWithCapture(
  { configFile, dataDir }: RunArguments,
  logger: Logger,
  notifier: SystemdNotifier,
  logLines: LogRing | null,
): Promise<number> {
  const config = loadConfig(dataDir === undefined ? {} : { dataDir }, { file: configFile });
  // The lock comes before anything opens the data folder, the broker or the HTTP port, so a second
  // daemon on the same config leaves the running one alone.
  const lock = acquireInstanceLock(config.dataDir, {
    logger: logger.child({ subsystem: 'daemon' }),
  });
  try {
    return await runLocked(config, configFile, logger, notifier, logLines);
  } finally {
    lock.release();
  }
}

async function runLocked(
  config: Config,
  configFile: string | undefined,
  logger: Logger,
  notifier: SystemdNotifier,
  logLines: LogRing | null,
): Promise<number> {
  const secrets = await readSecrets(config, logger.child({ subsystem: 'config' }));
  // CaptureService names its own subsystem on the logger.
  const capture = new CaptureService({ capture: config.capture, dataDir: config.dataDir, logger });
  // Capture starts before the daemon, and the daemon's ordered shutdown stops it first. The second
  // stop in `finally` covers a failed start and does nothing after a clean one.
  await capture.start();
  try {
    return await runDaemon({
      config,
      workflow: workflowSettings(config),
      http: { host: config.http.host, port: config.http.port, token: secrets.httpToken },
      frameSource: capture,
      stopFrameSource: () => capture.stop(),
      logger,
      notifier,
      configFile: configFile ?? null,
      logLines,
    });
  } finally {
    await capture.stop();
  }
}

/**
 * Starts the daemon and stops it on the first SIGINT or SIGTERM; a second signal is logged and
 * ignored, so a repeated Ctrl-C cannot cut the shutdown short. Returns 0 after a clean stop, 1
 * when a service failed to stop, so that systemd's Restart=on-failure restarts it.
 */
export async function runDaemon(options: RunDaemonOptions): Promise<number> {
  const out = options.out ?? process.stdout;
  const daemon = new Daemon(options);
  const stopRequested = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested.signal.aborted) {
      options.logger.warn({ signal }, 'already stopping; signal ignored');
      return;
    }
    options.logger.info({ signal }, 'stop requested');
    stopRequested.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const notifier = options.notifier;
  try {
    if (await startUnlessStopped(daemon, stopRequested.signal)) {
      await notifier?.ready(`running; status page on ${daemon.url ?? '(none)'}`);
      out.write(`bv-edge running; status page on ${daemon.url ?? '(none)'} (Ctrl-C stops it)\n`);
      await waitForAbort(stopRequested.signal);
    }
    await notifier?.stopping('stopping');
    const clean = await daemon.stop();
    await notifier?.status(clean ? 'stopped' : 'stopped with failures; see the log');
    options.logger.flush();
    return clean ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Builds the workflow settings from the daemon config. Keys that the config schema does not have
 * yet keep the workflow's own defaults.
 */
export function workflowSettings(config: Config): WorkflowSettings {
  return WorkflowSettingsSchema.parse({
    recordDurationS: config.workflow.recordSeconds,
    requiredViews: config.workflow.requiredViews,
  });
}

/** Starts the daemon; returns false when a stop was requested during start-up. */
async function startUnlessStopped(daemon: Daemon, signal: AbortSignal): Promise<boolean> {
  try {
    await daemon.start(signal);
    return true;
  } catch (error) {
    if (signal.aborted) return false;
    throw error;
  }
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}
