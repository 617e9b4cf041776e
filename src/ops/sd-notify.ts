import { execFile } from 'node:child_process';

import type { Logger } from '../core/log.ts';

/** How long one `systemd-notify` call may take before it is abandoned, ms. */
const SEND_TIMEOUT_MS = 5000;

export interface SystemdNotifierOptions {
  logger: Logger;
  /** Environment to read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Program that sends the datagram; default `systemd-notify` from PATH. */
  command?: string;
  /** This process's id, compared with WATCHDOG_PID; default process.pid. */
  pid?: number;
}

/**
 * Sends service state notifications to systemd (sd_notify(3)): READY=1, STATUS=, WATCHDOG=1 and
 * STOPPING=1. Node has no Unix datagram sockets, so each message goes through the
 * `systemd-notify` program, and the unit needs NotifyAccess=all because the sender is a child
 * process. Notifying is best effort: no method throws or rejects, the first failure is logged as
 * a warning and later ones at debug level. Without NOTIFY_SOCKET every method does nothing.
 *
 * NOTE: systemd-notify of systemd 246 and later waits until the manager has read the message
 * (BARRIER=1), so it is attributed to the unit although the sender exits at once. With older
 * systemd a message can be dropped; a lost WATCHDOG=1 is covered by the next one half an interval
 * later, but a lost READY=1 would fail the start.
 */
export class SystemdNotifier {
  /** Half of WATCHDOG_USEC in ms, as sd_watchdog_enabled(3) advises; null when no watchdog. */
  readonly watchdogIntervalMs: number | null;
  private readonly socket: string | null;
  private readonly logger: Logger;
  private readonly command: string;
  private readonly env: NodeJS.ProcessEnv;
  /** Sends run one after another, so systemd receives READY before WATCHDOG and STOPPING last. */
  private queue: Promise<void> = Promise.resolve();
  private failureLogged = false;
  private watchdogTimer: NodeJS.Timeout | null = null;
  private pingInFlight = false;

  constructor(options: SystemdNotifierOptions) {
    this.env = options.env ?? process.env;
    this.logger = options.logger;
    this.command = options.command ?? 'systemd-notify';
    const socket = this.env.NOTIFY_SOCKET;
    this.socket = socket ? socket : null;
    this.watchdogIntervalMs = this.socket
      ? watchdogInterval(this.env, options.pid ?? process.pid)
      : null;
  }

  /** Whether systemd asked for notifications (NOTIFY_SOCKET is set). */
  get enabled(): boolean {
    return this.socket !== null;
  }

  /** Tells systemd that start-up finished; `status` is shown by `systemctl status`. */
  ready(status?: string): Promise<void> {
    return this.send({ READY: '1', ...(status ? { STATUS: status } : {}) });
  }

  status(status: string): Promise<void> {
    return this.send({ STATUS: status });
  }

  /** Tells systemd that shutdown began, so a slow stop is not mistaken for a hang. */
  stopping(status?: string): Promise<void> {
    this.stopWatchdog();
    return this.send({ STOPPING: '1', ...(status ? { STATUS: status } : {}) });
  }

  /**
   * Sends WATCHDOG=1 every `watchdogIntervalMs` until `stopWatchdog()`. The timer does not keep
   * the process alive. A ping still waiting for `systemd-notify` skips the next tick.
   */
  startWatchdog(): void {
    const interval = this.watchdogIntervalMs;
    if (interval === null || this.watchdogTimer) return;
    this.watchdogTimer = setInterval(() => this.ping(), interval);
    this.watchdogTimer.unref();
    this.ping();
  }

  stopWatchdog(): void {
    if (!this.watchdogTimer) return;
    clearInterval(this.watchdogTimer);
    this.watchdogTimer = null;
  }

  /** Waits until every notification sent so far has been delivered or has failed. */
  flush(): Promise<void> {
    return this.queue;
  }

  private ping(): void {
    if (this.pingInFlight) return;
    this.pingInFlight = true;
    void this.send({ WATCHDOG: '1' }).finally(() => {
      this.pingInFlight = false;
    });
  }

  private send(fields: Record<string, string>): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    // STATUS text is one line in `systemctl status`; a newline would start another assignment.
    const args = Object.entries(fields).map(
      ([key, value]) => `${key}=${value.replace(/\n/g, ' ')}`,
    );
    this.queue = this.queue.then(() => this.run(args, socket));
    return this.queue;
  }

  private run(args: string[], socket: string): Promise<void> {
    return new Promise((resolve) => {
      execFile(
        this.command,
        args,
        { env: { ...this.env, NOTIFY_SOCKET: socket }, timeout: SEND_TIMEOUT_MS },
        (error, _stdout, stderr) => {
          if (error) this.reportFailure(args, error, stderr);
          resolve();
        },
      );
    });
  }

  private reportFailure(args: string[], error: Error, stderr: string): void {
    const fields = { err: error, stderr: stderr.trim(), message: args.join(' ') };
    if (this.failureLogged) {
      this.logger.debug(fields, 'systemd notification failed');
      return;
    }
    this.failureLogged = true;
    this.logger.warn(
      fields,
      `systemd notification through ${this.command} failed; later failures are logged at debug ` +
        'level. Check that systemd-notify is installed and the unit sets NotifyAccess=all.',
    );
  }
}

/**
 * Returns the watchdog ping interval in ms from WATCHDOG_USEC, or null when the watchdog is off
 * or WATCHDOG_PID names another process (sd_watchdog_enabled(3)).
 */
function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}
