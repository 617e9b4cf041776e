import { randomUUID } from 'node:crypto';

import type { Config, Environment } from '../config/index.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { FrameSource } from '../core/frames.ts';
import type { Logger } from '../core/log.ts';
import type { MqttLink } from '../mqtt/link.ts';
import type { QuarantineReport, StorageEvents } from '../ops/index.ts';
import { appendAudit } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import type { OutboxMessage } from '../store/outbox.ts';
import { registerBuiltinCommands, type CommandDeps } from './commands.ts';
import { applyConfigChange, diffConfigs, type ConfigChange } from './config-change.ts';
import { captureEventType, FLEET_EVENTS } from './events.ts';
import { buildInfo, summarizeModel, type ModelSource } from './info.ts';
import type { LatencyRecorder } from './latency.ts';
import type { LogRing } from './log-ring.ts';
import { EventPayload, StatusPayload, TelemetryPayload, type BundlesSummary } from './payloads.ts';
import { RequestRouter, type RequestContext } from './router.ts';
import { readDiskSpace } from './sysfs.ts';
import { collectTelemetry, type OutboxState } from './telemetry.ts';
import { commandOfRequestTopic, fleetTopic, FLEET_TOPICS, responseTopic } from './topics.ts';

export interface FleetAgentOptions {
  link: MqttLink;
  /** Queues a message in the outbox, which applies its bounds (OutboxPublisher.queue). */
  queue: (message: OutboxMessage) => unknown;
  store: Store;
  /** The effective config the daemon started with. */
  config: Config;
  /** The file the config came from, which config-set rewrites; null without one. */
  configFile: string | null;
  frameSource: FrameSource;
  /** Frames capture dropped since it started; left out, telemetry reports null. */
  framesDropped?: () => number | null;
  /** Restarts capture; left out, capture-restart returns an error response. */
  restartCapture?: () => Promise<void>;
  /** The engine whose bundle and providers `info` reports; null while none is loaded. */
  engine: () => ModelSource | null;
  /** Returns the model-list data; left out, model-list lists the loaded bundle. */
  models?: () => unknown;
  /** The active and the previous bundle for `info`; left out, `info` has bundles null. */
  bundles?: () => BundlesSummary;
  latency: LatencyRecorder;
  /** Outbox figures; outbox-stats returns the whole object. */
  outbox: () => OutboxState;
  storageEvents?: StorageEvents;
  /** A quarantine that happened while the store opened, before listeners existed. */
  storageQuarantine?: QuarantineReport | null;
  /** Recent log lines for log-tail; left out, log-tail returns an error response. */
  logLines?: LogRing | null;
  logger: Logger;
  /** Root of /sys for temperatures; default "/". */
  sysfsRoot?: string;
  /** Environment for validating config-set, as at start-up; default process.env. */
  env?: Environment;
}

/** How long stop() waits for running requests and for the offline status, ms. */
const STOP_TIMEOUT_MS = 3000;
/** request-rejected events sent per minute at most; the rest are counted in the next one. */
const REJECTED_EVENTS_PER_MINUTE = 10;

/**
 * Manages one device over MQTT: the retained online status after every connect (the publisher
 * sets offline as the last will), the retained info, periodic telemetry and events through the
 * outbox, and requests on `request/<command>` answered on `response/<command>`. Other code adds
 * commands through `router` and events through `event()`.
 */
export class FleetAgent {
  readonly router: RequestRouter;
  private readonly options: FleetAgentOptions;
  private readonly logger: Logger;
  private readonly startedAt = new Date();
  private config: Config;
  private telemetryTimer: NodeJS.Timeout | null = null;
  private readonly cleanups: (() => void)[] = [];
  private readonly running = new Set<Promise<void>>();
  private configChanges: Promise<unknown> = Promise.resolve();
  /** The capture restart in progress, which later capture-restart requests join. */
  private captureRestart: Promise<unknown> | null = null;
  private diskLow = false;
  private rejectedWindow = { startedAt: 0, sent: 0, suppressed: 0 };
  private started = false;

  constructor(options: FleetAgentOptions) {
    this.options = options;
    this.config = options.config;
    this.logger = options.logger;
    this.router = new RequestRouter({
      logger: options.logger,
      maxRequestBytes: () => this.config.fleet.maxRequestBytes,
    });
    registerBuiltinCommands(this.router, this.commandDeps());
  }

  private get base(): string {
    return this.options.link.topicBase;
  }

  /**
   * Subscribes to requests, announces the device now when connected and after every
   * (re)connect, reports capture and storage events, and starts telemetry.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { link, frameSource, storageEvents } = this.options;
    this.cleanups.push(
      link.subscribe(`${this.base}${FLEET_TOPICS.request}/+`, (topic, payload) =>
        this.track(this.onRequest(topic, payload)),
      ),
      link.onConnect(() => this.track(this.announce())),
      frameSource.onStateChange((state) => {
        const type = captureEventType(state);
        if (type) this.event(type, { state, fps: Math.round(frameSource.fps * 10) / 10 });
      }),
    );
    if (storageEvents) this.watchStorage(storageEvents);
    const quarantine = this.options.storageQuarantine;
    if (quarantine) this.event(FLEET_EVENTS.storageQuarantine, { ...quarantine });
    if (link.connected) this.track(this.announce());
    this.startTelemetry();
    this.logger.info(
      { topicBase: this.base, commands: this.router.commands() },
      'fleet agent started',
    );
  }

  /**
   * Stops telemetry and requests, waits up to STOP_TIMEOUT_MS for running requests, and
   * publishes the retained offline status while MQTT is still connected.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.stopTelemetry();
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    await withTimeout(Promise.allSettled([...this.running]), STOP_TIMEOUT_MS);
    if (!this.options.link.connected) {
      this.logger.warn('MQTT not connected at stop; the broker sends the offline will instead');
      return;
    }
    const offline: StatusPayload = {
      state: 'offline',
      at: new Date().toISOString(),
      reason: 'stopped',
    };
    const published = await withTimeout(
      this.options.link.publishNow(fleetTopic(this.base, 'status'), offline, {
        qos: 1,
        retain: true,
      }),
      STOP_TIMEOUT_MS,
    ).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'offline status not published');
      return false;
    });
    if (published !== false) this.logger.info('fleet agent stopped; offline status published');
  }

  /**
   * Queues an event on `events`, e.g. event("model-activated", {version: "1.2.0"}). `type` is
   * lowercase words joined by hyphens. Returns false, and logs why, when the type is invalid or
   * `data` has a patient identifier key; such an event is never sent. model-* events also
   * publish `info` again.
   */
  event(type: string, data: Record<string, unknown> = {}): boolean {
    const payload = { messageId: randomUUID(), type, at: new Date().toISOString(), data };
    const checked = EventPayload.safeParse(payload);
    if (!checked.success) {
      this.logger.error(
        { type, problems: checked.error.issues.map((issue) => issue.message) },
        'fleet event not sent: it fails the event payload check',
      );
      return false;
    }
    try {
      this.options.queue({
        topic: fleetTopic(this.base, 'events'),
        kind: 'event',
        payload,
        messageId: payload.messageId,
      });
    } catch (error) {
      this.logger.error({ err: error, type }, 'fleet event could not be queued');
      return false;
    }
    if (type.startsWith('model-')) this.refreshInfo();
    return true;
  }

  /** Publishes `info` again, e.g. after the model changed; does nothing while offline. */
  refreshInfo(): void {
    if (this.options.link.connected) this.track(this.publishInfo());
  }

  private async announce(): Promise<void> {
    const online: StatusPayload = {
      state: 'online',
      at: new Date().toISOString(),
      reason: 'connected',
    };
    try {
      await this.options.link.publishNow(fleetTopic(this.base, 'status'), online, {
        qos: 1,
        retain: true,
      });
    } catch (error) {
      this.logger.warn(
        { err: error },
        'online status not published; it is sent again on reconnect',
      );
      return;
    }
    await this.publishInfo();
  }

  private async publishInfo(): Promise<void> {
    const info = buildInfo({
      config: this.config,
      engine: this.options.engine(),
      bundles: this.options.bundles?.() ?? null,
      startedAt: this.startedAt,
      now: new Date(),
    });
    try {
      await this.options.link.publishNow(fleetTopic(this.base, 'info'), info, {
        qos: 1,
        retain: true,
      });
    } catch (error) {
      this.logger.warn({ err: error }, 'info not published; it is sent again on reconnect');
    }
  }

  private startTelemetry(): void {
    this.stopTelemetry();
    const intervalMs = this.config.fleet.telemetryIntervalS * 1000;
    this.telemetryTimer = setInterval(() => this.track(this.sendTelemetry()), intervalMs);
    this.telemetryTimer.unref();
    this.track(this.sendTelemetry());
  }

  private stopTelemetry(): void {
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    this.telemetryTimer = null;
  }

  /** Queues one telemetry message. Never rejects; a failure is logged. */
  async sendTelemetry(): Promise<void> {
    try {
      const { link } = this.options;
      const payload = await collectTelemetry({
        frameSource: this.options.frameSource,
        framesDropped: this.options.framesDropped ?? (() => null),
        latency: this.options.latency,
        outbox: this.options.outbox,
        mqttConnected: () => link.connected,
        diskLow: () => this.diskLow,
        dataDir: this.config.dataDir,
        sysfsRoot: this.options.sysfsRoot ?? '/',
        startedAt: this.startedAt,
      });
      TelemetryPayload.parse(payload);
      this.options.queue({
        topic: fleetTopic(this.base, 'telemetry'),
        kind: 'telemetry',
        payload,
        messageId: payload.messageId,
      });
      // Best effort: the outbox copy above is the one that must arrive.
      if (link.connected) {
        await link
          .publishNow(fleetTopic(this.base, 'telemetryLatest'), payload, { qos: 0, retain: true })
          .catch((error: unknown) =>
            this.logger.debug({ err: error }, 'latest telemetry not sent'),
          );
      }
    } catch (error) {
      this.logger.error({ err: error }, 'telemetry not queued');
    }
  }

  private watchStorage(events: StorageEvents): void {
    this.cleanups.push(
      events.on('disk-low', (report) => {
        this.diskLow = true;
        this.event(FLEET_EVENTS.diskLow, { ...report });
      }),
      events.on('disk-ok', (report) => {
        this.diskLow = false;
        this.event(FLEET_EVENTS.diskOk, { ...report });
      }),
      events.on('quarantine', (report) =>
        this.event(FLEET_EVENTS.storageQuarantine, { ...report }),
      ),
      events.on('retention', (report) =>
        this.event(FLEET_EVENTS.storageRetention, {
          removedCases: report.removedCaseIds.length,
          removedAbandoned: report.removedAbandoned,
          keptQueued: report.keptQueued.length,
          keptReferenced: report.keptReferenced.length,
          cutoff: report.cutoff,
        }),
      ),
      events.on('backup', (report) => this.event(FLEET_EVENTS.storageBackup, { ...report })),
    );
  }

  private async onRequest(topic: string, payload: Buffer): Promise<void> {
    const command = commandOfRequestTopic(this.base, topic);
    if (command === null) return;
    const outcome = await this.router.route(command, payload);
    if (outcome.kind === 'rejected') {
      this.logger.warn(
        { command, bytes: payload.length, ...outcome.error },
        'fleet request rejected',
      );
      this.reportRejected({ command, bytes: payload.length, ...outcome.error });
      return;
    }
    try {
      await this.options.link.publishNow(responseTopic(this.base, command), outcome.response, {
        qos: 1,
      });
    } catch (error) {
      this.logger.warn(
        { err: error, command, transactionId: outcome.response.transactionId },
        'fleet response not published',
      );
    }
  }

  /** Sends request-rejected, at most REJECTED_EVENTS_PER_MINUTE a minute. */
  private reportRejected(data: Record<string, unknown>): void {
    const window = this.rejectedWindow;
    const now = Date.now();
    if (now - window.startedAt >= 60_000) {
      window.startedAt = now;
      window.sent = 0;
    }
    if (window.sent >= REJECTED_EVENTS_PER_MINUTE) {
      window.suppressed += 1;
      return;
    }
    window.sent += 1;
    const suppressed = window.suppressed;
    window.suppressed = 0;
    this.event(FLEET_EVENTS.requestRejected, { ...data, suppressedBefore: suppressed });
  }

  private commandDeps(): CommandDeps {
    return {
      config: () => this.config,
      configFile: this.options.configFile,
      changeConfig: (change, context) => this.changeConfig(change, context),
      health: () => this.health(),
      restartCapture: this.options.restartCapture
        ? (context) => this.restartCapture(context)
        : null,
      models: this.options.models ?? (() => ({ active: summarizeModel(this.options.engine()) })),
      outbox: () => this.options.outbox(),
      logLines: this.options.logLines ?? null,
      uptimeS: () => Math.round((Date.now() - this.startedAt.getTime()) / 100) / 10,
    };
  }

  /** Applies config-set requests one at a time; see applyConfigChange. */
  private changeConfig(change: ConfigChange, context: RequestContext) {
    const next = this.configChanges.then(() => this.applyChange(change, context));
    this.configChanges = next.catch(() => undefined);
    return next;
  }

  private async applyChange(change: ConfigChange, context: RequestContext) {
    const file = this.options.configFile;
    if (file === null) {
      throw new BvEdgeError(
        'config_file_unknown',
        'This daemon was started without a config file, so config-set has nowhere to write; ' +
          'start it with bv-edge run --config FILE.',
      );
    }
    const result = await applyConfigChange(file, change, {
      running: this.config,
      ...(this.options.env && { env: this.options.env }),
    });
    // Only the fleet section is read while running; every other key is read at start-up, so a
    // restart is due while any of them differs from the running config, whatever the file had.
    const restartRequired = diffConfigs(this.config, result.config).changedKeys.some(
      (key) => !key.startsWith('fleet.'),
    );
    appendAudit(this.options.store.db, {
      actor: `fleet:${context.client ?? 'unknown'}`,
      at: new Date().toISOString(),
      action: 'config.set',
      caseId: null,
      before: { file, values: result.before },
      after: { file, values: result.after, restartRequired },
    });
    context.logger.info(
      { file, changedKeys: result.changedKeys, restartRequired },
      'config changed',
    );
    if (result.changedKeys.length > 0) {
      this.applyFleetSettings(result.config);
      this.event(FLEET_EVENTS.configChanged, {
        changedKeys: result.changedKeys,
        restartRequired,
        client: context.client,
      });
    }
    return { ...result, restartRequired };
  }

  private applyFleetSettings(next: Config): void {
    const intervalChanged = next.fleet.telemetryIntervalS !== this.config.fleet.telemetryIntervalS;
    this.config = { ...this.config, fleet: next.fleet };
    if (intervalChanged && this.started) this.startTelemetry();
    this.refreshInfo();
  }

  /**
   * Restarts capture, or, while a restart runs, waits for that one and returns its result: a
   * burst of requests restarts the source once instead of once per request.
   */
  private restartCapture(context: RequestContext): Promise<unknown> {
    if (this.captureRestart) return this.captureRestart;
    const restart = this.runCaptureRestart(context).finally(() => {
      this.captureRestart = null;
    });
    this.captureRestart = restart;
    return restart;
  }

  private async runCaptureRestart(context: RequestContext): Promise<unknown> {
    const before = this.options.frameSource.state;
    await this.options.restartCapture!();
    const after = this.options.frameSource.state;
    appendAudit(this.options.store.db, {
      actor: `fleet:${context.client ?? 'unknown'}`,
      at: new Date().toISOString(),
      action: 'capture.restart',
      caseId: null,
      before: { state: before },
      after: { state: after },
    });
    this.event(FLEET_EVENTS.captureRestarted, { before, after, client: context.client });
    return { before, state: after };
  }

  private async health(): Promise<unknown> {
    const { frameSource, link } = this.options;
    const outbox = this.options.outbox();
    const model = summarizeModel(this.options.engine());
    const disk = await readDiskSpace(this.config.dataDir).catch(() => null);
    const checks = {
      mqtt: { ok: link.connected },
      capture: { ok: frameSource.state === 'live', state: frameSource.state, fps: frameSource.fps },
      inference: { ok: model !== null, model },
      outbox: { ok: !outbox.full, depth: outbox.depth, oldestAgeS: outbox.oldestAgeS },
      disk: { ok: disk !== null && !this.diskLow, ...disk },
    };
    const ok = Object.values(checks).every((check) => check.ok);
    return { status: ok ? 'ok' : 'degraded', checks };
  }

  /** Keeps `work` until it settles, so stop() can wait for it; a rejection is logged. */
  private track(work: Promise<void>): void {
    const guarded: Promise<void> = work
      .catch((error: unknown) => this.logger.error({ err: error }, 'fleet agent task failed'))
      .finally(() => this.running.delete(guarded));
    this.running.add(guarded);
  }
}

/** The last will for the publisher: retained offline status, sent by the broker on a lost link. */
export function fleetWill(topicBase: string) {
  const payload: StatusPayload = { state: 'offline', reason: 'connection-lost' };
  return { topic: fleetTopic(topicBase, 'status'), payload, qos: 1 as const, retain: true };
}

/** Resolves with `work`'s value, or with false after `ms`. */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | false> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
