import { loadConfig, readSecrets, type Config } from '../config/index.ts';
import { CaptureService } from '../capture/index.ts';
import type { Logger } from '../core/log.ts';
import { Daemon, type DaemonOptions } from '../daemon.ts';
import { WorkflowSettingsSchema, type WorkflowSettings } from '../workflow/settings.ts';
import { parseCommandLine } from './common.ts';

export interface RunDaemonOptions extends DaemonOptions {
  /** Stream for the one start-up line; default stdout. */
  out?: NodeJS.WritableStream;
}

/** Runs the daemon until SIGINT or SIGTERM: `bv-edge run [--config FILE]`. */
export async function runCommand(args: string[], logger: Logger): Promise<number> {
  const { values } = parseCommandLine(args, { config: { type: 'string' } });
  const config = loadConfig({}, { file: values.config as string | undefined });
  const secrets = await readSecrets(config, logger.child({ subsystem: 'config' }));
  const capture = new CaptureService({
    capture: config.capture,
    dataDir: config.dataDir,
    logger: logger.child({ subsystem: 'capture' }),
  });
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
    });
  } finally {
    await capture.stop();
  }
}

/**
 * Starts the daemon and stops it on the first SIGINT or SIGTERM; a second signal is logged and
 * ignored, so a repeated Ctrl-C cannot cut the shutdown short. Returns 0 after a clean stop, 1
 * when a service failed to stop.
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
  try {
    if (await startUnlessStopped(daemon, stopRequested.signal)) {
      out.write(`bv-edge running; status page on ${daemon.url ?? '(none)'} (Ctrl-C stops it)\n`);
      await waitForAbort(stopRequested.signal);
    }
    return (await daemon.stop()) ? 0 : 1;
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
