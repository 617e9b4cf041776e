import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import type { TimedFrame } from '../core/frames.ts';
import type { Logger } from '../core/log.ts';
import type { Notice } from '../core/notice.ts';
import { notice } from '../notices/index.ts';
import { Backoff } from './backoff.ts';
import { monotonicSeconds } from './clock.ts';
import { FrameReader } from './wire.ts';
import {
  EXIT_RECYCLE,
  type WorkerMessage,
  type WorkerPlan,
  type WorkerStats,
} from './worker-protocol.ts';

const WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));
/** tsx's ESM loader by absolute path, so that the capture process starts from any folder. */
const TSX_LOADER = import.meta.resolve('tsx');

/** Time a new capture process has to start its pipeline, s; it covers tsx compiling the worker. */
const START_TIMEOUT_S = 20;
/** Time a stopping capture process has to exit after SIGTERM before it is killed, ms. */
const STOP_TIMEOUT_MS = 3000;
/** A process that delivered frames this long has recovered, and the backoff starts again, s. */
const STABLE_RUN_S = 10;
/** Interval of the watchdog checks, ms. */
const WATCHDOG_TICK_MS = 250;
/** Lines of the capture process's stderr kept for the reason of a failure. */
const STDERR_LINES = 20;

/** Events of the capture process, for the capture service. */
export type SupervisorEvent =
  | { type: 'playing'; pid: number }
  | { type: 'caps'; width: number; height: number; framerate: string | null }
  | { type: 'loop'; count: number }
  | { type: 'stats'; stats: WorkerStats }
  /**
   * The process failed; a new one starts in `retryInMs`. `reason` is the English text of
   * `notice`. `stalled` means frames stopped.
   */
  | {
      type: 'failed';
      code: string;
      reason: string;
      notice: Notice;
      retryInMs: number;
      stalled: boolean;
    }
  /** A source that does not loop reached its end; no new process starts. */
  | { type: 'ended' };

export interface SupervisorOptions {
  plan: WorkerPlan;
  restart: { initialDelayMs: number; maxDelayMs: number };
  /** Time without a heartbeat after which the process is killed, ms. */
  watchdogMs: number;
  /** Time without a frame after which the process is replaced, ms. */
  stallMs: number;
  logger: Logger;
  onFrame(frame: TimedFrame): void;
  onEvent(event: SupervisorEvent): void;
}

interface Failure {
  code: string;
  notice: Notice;
  stalled: boolean;
}

/**
 * Runs the capture process (worker.ts) and keeps it running: a process that reports an error,
 * exits, stops sending heartbeats or stops delivering frames is replaced after a capped
 * exponential backoff. Frames arrive on a pipe, control messages on the IPC channel.
 */
export class CaptureSupervisor {
  private child: ChildProcess | null = null;
  private readonly backoff: Backoff;
  private restartTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private spawnedS = 0;
  private playingS: number | null = null;
  private lastHeartbeatS = 0;
  private lastFrameS: number | null = null;
  private failure: Failure | null = null;
  private ended = false;
  private stopping = false;
  private closed: Promise<void> = Promise.resolve();
  private stderrTail: string[] = [];
  private startCount = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = new Backoff(options.restart.initialDelayMs, options.restart.maxDelayMs);
  }

  /** Starts the first capture process. */
  start(): void {
    this.stopping = false;
    this.spawn();
  }

  /** Stops the capture process and cancels restarts; resolves once the process has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.clearTimers();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.closed;
      clearTimeout(killer);
    }
    await this.closed;
  }

  /** Process id of the running capture process, or null between processes. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Capture processes started after the first one. */
  get restarts(): number {
    return Math.max(0, this.startCount - 1);
  }

  private spawn(): void {
    this.restartTimer = null;
    if (this.stopping) return;
    this.resetProcessState();
    const child = fork(WORKER_PATH, [JSON.stringify(this.options.plan)], {
      execArgv: ['--import', TSX_LOADER],
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    this.startCount++;
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
    child.once('close', (code, signal) => this.onClose(code, signal));
    child.on('error', (error) =>
      this.recordFailure(
        'capture_process_failed',
        notice('notice.capture.processFailed', { detail: error.message }),
      ),
    );
    child.on('message', (message) => this.onMessage(message as WorkerMessage));
    this.readFrames(child.stdio[3] as Readable);
    this.readLog(child.stdout!, 'debug');
    this.readLog(child.stderr!, 'warn');
    this.watchdog = setInterval(() => this.checkWatchdog(), WATCHDOG_TICK_MS);
    this.options.logger.debug(
      { pid: child.pid, start: this.startCount },
      'capture process started',
    );
  }

  private resetProcessState(): void {
    this.spawnedS = monotonicSeconds();
    this.playingS = null;
    this.lastHeartbeatS = this.spawnedS;
    this.lastFrameS = null;
    this.failure = null;
    this.ended = false;
    this.stderrTail = [];
  }

  private readFrames(stream: Readable): void {
    const reader = new FrameReader();
    stream.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch (error) {
        const detail = (error as Error).message;
        this.recordFailure(
          'capture_stream_corrupt',
          notice('notice.capture.processFailed', { detail }),
        );
        this.child?.kill('SIGKILL');
        stream.destroy();
        return;
      }
      for (const frame of frames) {
        this.lastFrameS = frame.timestampS;
        this.options.onFrame({ frame: frame.frame, timestampS: frame.timestampS });
      }
    });
    stream.on('error', () => undefined);
  }

  /** Logs what the capture process prints, which is GStreamer's and Node's own output. */
  private readLog(stream: Readable, level: 'debug' | 'warn'): void {
    stream.setEncoding('utf8');
    let partial = '';
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines.filter((text) => text.trim() !== '')) {
        this.stderrTail = [...this.stderrTail, line].slice(-STDERR_LINES);
        this.options.logger[level]({ pid: this.child?.pid, line }, 'capture process output');
      }
    });
  }

  private onMessage(message: WorkerMessage): void {
    this.lastHeartbeatS = monotonicSeconds();
    switch (message.type) {
      case 'playing':
        this.playingS = monotonicSeconds();
        return this.options.onEvent({ type: 'playing', pid: this.child?.pid ?? 0 });
      case 'caps':
      case 'loop':
        return this.options.onEvent(message);
      case 'heartbeat':
        return this.options.onEvent({ type: 'stats', stats: message.stats });
      case 'warning':
        this.options.logger.warn({ reason: message.message }, 'capture pipeline warning');
        return;
      case 'error':
        this.options.onEvent({ type: 'stats', stats: message.stats });
        return this.recordFailure(message.code, message.notice);
      case 'end-of-stream':
        this.ended = true;
        return this.options.onEvent({ type: 'stats', stats: message.stats });
    }
  }

  private recordFailure(code: string, reason: Notice, stalled = false): void {
    this.failure ??= { code, notice: reason, stalled };
  }

  private checkWatchdog(): void {
    const child = this.child;
    if (!child || this.stopping) return;
    const now = monotonicSeconds();
    if (this.playingS === null) {
      if (now - this.spawnedS > START_TIMEOUT_S) {
        this.recordFailure(
          'capture_start_timeout',
          notice('notice.capture.startTimeout', { seconds: START_TIMEOUT_S }),
        );
        child.kill('SIGKILL');
      }
      return;
    }
    if ((now - this.lastHeartbeatS) * 1000 > this.options.watchdogMs) {
      const seconds = this.options.watchdogMs / 1000;
      this.recordFailure('capture_process_hung', notice('notice.capture.processHung', { seconds }));
      child.kill('SIGKILL');
      return;
    }
    const lastFrame = this.lastFrameS ?? this.playingS;
    if ((now - lastFrame) * 1000 > this.options.stallMs) {
      const seconds = this.options.stallMs / 1000;
      this.recordFailure('capture_stalled', notice('notice.capture.stalled', { seconds }), true);
      child.kill('SIGKILL');
    }
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    this.clearTimers();
    const ranS = this.lastFrameS === null ? 0 : this.lastFrameS - this.spawnedS;
    this.child = null;
    if (this.stopping) return;
    if (this.ended && code === 0) {
      this.options.logger.info('capture source reached its end');
      return this.options.onEvent({ type: 'ended' });
    }
    if (code === EXIT_RECYCLE) {
      this.options.logger.info('capture process replaced after its pipeline or memory limit');
      return this.spawn();
    }
    if (ranS >= STABLE_RUN_S) this.backoff.reset();
    const failure = this.failure ?? this.exitFailure(code, signal);
    const retryInMs = this.backoff.next();
    this.options.onEvent({
      type: 'failed',
      code: failure.code,
      reason: failure.notice.text,
      notice: failure.notice,
      retryInMs,
      stalled: failure.stalled,
    });
    this.restartTimer = setTimeout(() => this.spawn(), retryInMs);
  }

  private exitFailure(code: number | null, signal: NodeJS.Signals | null): Failure {
    const output = this.stderrTail.join(' | ');
    let reason: Notice;
    if (signal !== null) {
      reason = output
        ? notice('notice.capture.processKilledOutput', { signal, detail: output })
        : notice('notice.capture.processKilled', { signal });
    } else {
      const exit = String(code);
      reason = output
        ? notice('notice.capture.processExitedOutput', { code: exit, detail: output })
        : notice('notice.capture.processExited', { code: exit });
    }
    return { code: 'capture_process_exited', notice: reason, stalled: false };
  }

  private clearTimers(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.watchdog = null;
    this.restartTimer = null;
  }
}
