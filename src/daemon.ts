import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { desc } from 'drizzle-orm';
import type { Hono } from 'hono';

import { CaptureService } from './capture/index.ts';
import { readSecrets, type Config, type Secret } from './config/index.ts';
import { BvEdgeError } from './core/errors.ts';
import type { FrameSource } from './core/frames.ts';
import { subsystemLogger, type Logger } from './core/log.ts';
import {
  FleetAgent,
  fleetWill,
  instrumentEngine,
  LatencyRecorder,
  type LogRing,
} from './fleet/index.ts';
import { createHl7Api, Hl7Service, toHl7Summary } from './hl7/index.ts';
import { anhSiteSettings } from './commands/anh-options.ts';
import {
  createHttpApp,
  DaemonMetrics,
  serveStatus,
  type StatusServer,
  type StatusSnapshot,
} from './http/index.ts';
import { captureSummary, diskFreeBytes } from './http/device-status.ts';
import type { InferenceEngine } from './inference/engine.ts';
import { OutboxPublisher } from './mqtt/publisher.ts';
import { publisherOptionsFromConfig } from './mqtt/connection-config.ts';
import {
  openCheckedDatabase,
  StorageCare,
  StorageEvents,
  type QuarantineReport,
} from './ops/index.ts';
import { assertCanListen, listenError } from './ops/listen-check.ts';
import { configuredTopicBase, estimatesTopic } from './mqtt/topics.ts';
import { ModelManager, registerModelCommands } from './ota/index.ts';
import type { ScanRecord } from './scan/types.ts';
import { getCase, outboxStats, type Store } from './store/index.ts';
import { cases } from './store/schema.ts';
import { createWorkflowApi } from './workflow/api.ts';
import { WorkflowService } from './workflow/service.ts';
import type { WorkflowSettings } from './workflow/settings.ts';

export interface DaemonOptions {
  config: Config;
  workflow: WorkflowSettings;
  /**
   * Address of the touchscreen page and its API, or null to serve nothing. With a token, the API,
   * the event stream, the previews and /metrics require it, as a bearer token or the page's cookie.
   */
  http: { host: string; port: number; token?: Secret | null } | null;
  /** Live frames; the daemon reads them but does not start the source. */
  frameSource: FrameSource;
  /** Stops the frame source first on shutdown, so producers stop before the services they feed. */
  stopFrameSource?: () => Promise<void>;
  logger: Logger;
  /** The config file the daemon was started with, which the fleet config-set rewrites. */
  configFile?: string | null;
  /** Recent log lines for the fleet log-tail request; a pino destination beside the real one. */
  logLines?: LogRing | null;
}

/** The services of a running daemon, in start order. */
interface Services {
  store: Store;
  storage?: StorageCare;
  models?: ModelManager;
  engine?: InferenceEngine;
  publisher?: OutboxPublisher;
  fleet?: FleetAgent;
  hl7?: Hl7Service;
  workflow?: WorkflowService;
  server?: StatusServer;
}

/**
 * The long-running daemon on the cart: the store, the inference engine, the MQTT outbox publisher,
 * the scan workflow over a live frame source, and the status page with the workflow API.
 * Constructing it does no work; `start()` starts the services in order and `stop()` stops them
 * in reverse, so producers stop before what they write to.
 */
export class Daemon {
  /**
   * Quarantine, retention, backup and disk-space events of the store, for the fleet agent to
   * publish. A quarantine happens while the store opens, before any listener can subscribe, so
   * `storageQuarantine` keeps it.
   */
  readonly storageEvents: StorageEvents;
  private readonly options: DaemonOptions;
  private readonly logger: Logger;
  private quarantine: QuarantineReport | null = null;
  private services: Services | null = null;
  private latestScan: ScanRecord | null = null;
  private startedAt = '';
  /** Inference latency of the workflow's engine calls, for fleet telemetry. */
  private readonly latency = new LatencyRecorder();
  /** Reads the status for /metrics; set once the HTTP server is built. */
  private statusReader: (() => StatusSnapshot) | null = null;
  private readonly metrics = new DaemonMetrics(() => {
    if (!this.statusReader) throw new Error('metrics read before the HTTP server was built');
    return this.statusReader();
  });
  /**
   * Times every run of `engine` for telemetry and /metrics. Engines swapped in by an activation or
   * rollback go through it too, so the figures go on after a model update.
   */
  private readonly timeEngine = (engine: InferenceEngine): InferenceEngine => {
    this.metrics.instrument(engine);
    return instrumentEngine(engine, this.latency);
  };

  constructor(options: DaemonOptions) {
    this.options = options;
    this.logger = child(options.logger, 'daemon');
    this.storageEvents = new StorageEvents(child(options.logger, 'storage'));
  }

  /** The damaged database file moved aside at the last start; null when the file was sound. */
  get storageQuarantine(): QuarantineReport | null {
    return this.quarantine;
  }

  /** Model delivery: install, activate and roll back bundles; null before start(). */
  get models(): ModelManager | null {
    return this.services?.models ?? null;
  }

  get workflow(): WorkflowService {
    const workflow = this.services?.workflow;
    if (!workflow) throw new Error('Daemon.start() has not completed');
    return workflow;
  }

  /**
   * The fleet agent, for adding request commands (`fleet.router.register`) and events
   * (`fleet.event`); null before start and when fleet.enabled is false.
   */
  get fleet(): FleetAgent | null {
    return this.services?.fleet ?? null;
  }

  /** The status page URL, e.g. "http://127.0.0.1:8080/"; null when not serving. */
  get url(): string | null {
    return this.services?.server?.url ?? null;
  }

  /**
   * Starts every service. `signal` is checked between the slow steps, so a stop request during
   * start-up does not wait for the broker or the models. On any failure the services already
   * started are stopped again before the error is thrown.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.services) throw new Error('Daemon.start() was called twice');
    this.startedAt = new Date().toISOString();
    const { config, logger } = this.options;
    // A port in use is reported before the broker connection, which would take over the MQTT
    // client id of the daemon that has the port.
    if (this.options.http) await assertCanListen(this.options.http.host, this.options.http.port);
    mkdirSync(config.dataDir, { recursive: true });
    const { store, quarantine } = openCheckedDatabase(
      join(config.dataDir, 'bv-edge.sqlite'),
      child(logger, 'store'),
    );
    this.quarantine = quarantine;
    if (quarantine) this.storageEvents.emit('quarantine', quarantine);
    const services: Services = { store };
    this.services = services;
    try {
      await this.startServices(services, signal);
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.logger.info({ url: this.url, dataDir: config.dataDir }, 'daemon started');
  }

  /**
   * Stops every started service, producers first: capture, then the workflow (which discards a
   * recording in progress and waits for a running analysis), inference, then the store's final
   * checkpoint, the fleet agent's offline status, MQTT and HTTP, and the store last. A step that fails is logged and the later steps
   * still run. Returns false when any of them failed to stop.
   */
  async stop(): Promise<boolean> {
    const services = this.services;
    if (!services) return true;
    this.services = null;
    const steps: [string, (() => Promise<void> | void) | undefined][] = [
      ['capture', this.options.stopFrameSource],
      ['models', services.models && (() => services.models!.close())],
      ['workflow', services.workflow && (() => services.workflow!.stop())],
      ['hl7', services.hl7 && (() => services.hl7!.stop())],
      // A model activation may have replaced the engine the daemon started with.
      [
        'inference',
        services.engine && (() => (services.workflow?.engine ?? services.engine!).close()),
      ],
      ['storage', services.storage && (() => services.storage!.stop())],
      // The fleet agent publishes its retained offline status here, while MQTT is still up.
      ['fleet', services.fleet && (() => services.fleet!.stop())],
      ['mqtt', services.publisher && (() => services.publisher!.stop())],
      ['http', services.server && (() => services.server!.close())],
      ['store', () => services.store.close()],
    ];
    let clean = true;
    for (const [name, stop] of steps) {
      if (!stop) continue;
      try {
        await stop();
      } catch (error) {
        clean = false;
        this.logger.error({ err: error, service: name }, 'service failed to stop');
      }
    }
    this.logger.info({ clean }, 'daemon stopped');
    return clean;
  }

  private async startServices(services: Services, signal: AbortSignal | undefined): Promise<void> {
    const { config, logger } = this.options;
    this.latestScan = readLatestScan(services.store, this.logger);
    services.storage = new StorageCare({
      store: services.store,
      config: config.storage,
      dataDir: config.dataDir,
      events: this.storageEvents,
      logger: child(logger, 'storage'),
    });
    services.storage.start();
    signal?.throwIfAborted();
    services.models = new ModelManager({
      config,
      store: services.store,
      logger: child(logger, 'models'),
      prepareEngine: this.timeEngine,
    });
    await services.models.open();
    // The active bundle of the bundle store when one is installed, else config.modelDir.
    services.engine = await services.models.loadStartEngine();
    signal?.throwIfAborted();
    const mqttLogger = child(logger, 'mqtt');
    const publisherOptions = publisherOptionsFromConfig(
      config,
      await readSecrets(config, mqttLogger),
      services.store,
      mqttLogger,
    );
    services.publisher = new OutboxPublisher({
      ...publisherOptions,
      // The broker publishes the retained offline status when the cart drops off the network.
      ...(config.fleet.enabled && { will: fleetWill(publisherOptions.topicBase!) }),
    });
    await services.publisher.start();
    signal?.throwIfAborted();
    if (config.fleet.enabled) services.fleet = this.startFleet(services, services.publisher);
    if (config.hl7.enabled) {
      services.hl7 = new Hl7Service({
        store: services.store,
        config: config.hl7,
        deviceName: config.mqtt.device,
        logger: child(logger, 'hl7'),
      });
      await services.hl7.start();
    }
    services.workflow = this.createWorkflow(
      services.store,
      services.engine,
      services.publisher,
      services.storage,
    );
    if (services.hl7) pushClosedCases(services.workflow, services.hl7);
    await services.workflow.start();
    services.models.attach(services.workflow);
    // Registered only now, so that a fleet request always switches the engine of the workflow.
    if (services.fleet) registerModelCommands(services.fleet.router, services.models);
    if (this.options.http) services.server = await this.serve(services, this.options.http);
  }

  private startFleet(services: Services, publisher: OutboxPublisher): FleetAgent {
    const { config, logger, frameSource } = this.options;
    // Only the capture service counts dropped frames and can be restarted; test sources cannot.
    const capture = frameSource instanceof CaptureService ? frameSource : null;
    const agent = new FleetAgent({
      link: publisher,
      queue: (message) => publisher.queue(message),
      store: services.store,
      config,
      configFile: this.options.configFile ?? null,
      frameSource,
      ...(capture && {
        framesDropped: () => capture.status().framesDropped,
        restartCapture: () => this.restartCapture(capture),
      }),
      engine: () => services.workflow?.engine ?? services.engine ?? null,
      ...(services.models && {
        models: () => services.models!.bundles(),
        bundles: () => services.models!.bundles(),
      }),
      latency: this.latency,
      outbox: () => publisher.stats(),
      storageEvents: this.storageEvents,
      storageQuarantine: this.quarantine,
      logLines: this.options.logLines ?? null,
      logger: child(logger, 'fleet'),
    });
    services.models?.events.on((type, data) => agent.event(type, data));
    agent.start();
    return agent;
  }

  /** Stops and starts capture again, unless a view is being recorded from it. */
  private async restartCapture(capture: CaptureService): Promise<void> {
    if (this.services?.workflow?.snapshot()?.step === 'recording') {
      throw new BvEdgeError(
        'capture_busy',
        'A view is being recorded; restart capture after the recording ends or is cancelled.',
      );
    }
    await capture.stop();
    await capture.start();
  }

  private createWorkflow(
    store: Store,
    engine: InferenceEngine,
    publisher: OutboxPublisher,
    storage: StorageCare,
  ): WorkflowService {
    const { config, logger } = this.options;
    const workflow = new WorkflowService({
      store,
      engine: this.timeEngine(engine),
      source: this.options.frameSource,
      recordingGuard: (view) => storage.diskGuard.assertCanRecord(view),
      settings: this.options.workflow,
      estimateTopic: estimatesTopic(configuredTopicBase(config.mqtt)),
      logger: child(logger, 'workflow'),
    });
    workflow.events.on('case-closed', ({ record }) => {
      this.latestScan = record;
      publisher.wake();
    });
    return workflow;
  }

  private async serve(
    services: Services,
    http: NonNullable<DaemonOptions['http']>,
  ): Promise<StatusServer> {
    const { config } = this.options;
    const frameSource = this.options.frameSource;
    const workflow = services.workflow!;
    const readStatus = (): StatusSnapshot => ({
      latestScan: this.latestScan,
      outbox: outboxStats(services.store.db),
      mqttConnected: services.publisher?.connected ?? false,
      startedAt: this.startedAt,
      capture: captureSummary(frameSource),
      executionProviders: workflow.engine.providers,
      bundles: services.models?.bundles(),
      model: {
        name: workflow.engine.manifest.name,
        version: workflow.engine.manifest.version,
        intendedUse: workflow.engine.manifest.intendedUse,
        noticeTranslations: workflow.engine.manifest.noticeTranslations ?? {},
      },
      hl7: services.hl7 ? toHl7Summary(services.hl7.status()) : { state: 'disabled', detail: null },
      diskFreeBytes: diskFreeBytes(config.dataDir),
      diskLow: (services.storage?.diskGuard.recordingBlocked() ?? null) !== null,
    });
    this.statusReader = readStatus;
    const apiLogger = child(this.options.logger, 'api');
    const routes: Record<string, Hono> = {
      '/api/workflow': createWorkflowApi(workflow, apiLogger),
    };
    if (services.hl7) {
      routes['/api/hl7'] = createHl7Api({
        service: services.hl7,
        isCaseOpen: (caseId) => workflow.snapshot()?.caseId === caseId,
        logger: apiLogger,
      });
    }
    const site = anhSiteSettings(config.clinical);
    const { app, close } = createHttpApp({
      language: config.http.language,
      hbUnit: config.clinical.hemoglobinUnit,
      token: http.token ?? null,
      logger: apiLogger,
      readStatus,
      readiness: () => ({
        storeOpen: services.store.sqlite.open,
        modelsLoaded: services.engine !== undefined,
        captureState: frameSource.state,
        captureReason: frameSource instanceof CaptureService ? frameSource.reason : null,
        recordingBlocked: services.storage?.diskGuard.recordingBlocked() ?? null,
      }),
      events: workflow.events,
      frames: frameSource,
      cases: {
        store: services.store,
        labelOptions: {
          topicBase: configuredTopicBase(config.mqtt),
          anticoagulantMlPerBag: site.anticoagulantMlPerBag,
          minEquilibrationMinutes: site.minEquilibrationMinutes,
          weightBasedMlPerKg: site.weightBasedMlPerKg,
        },
        onLabelsStored: () => services.publisher?.wake(),
        ...(services.hl7 && { hl7Delivery: (record) => services.hl7!.caseDelivery(record) }),
        logger: apiLogger,
      },
      metrics: this.metrics,
      routes,
    });
    let server: StatusServer;
    try {
      server = await serveStatus(app, { host: http.host, port: http.port });
    } catch (error) {
      close();
      throw listenError(error, http.host, http.port);
    }
    return {
      url: server.url,
      close: async () => {
        close();
        await server.close();
      },
    };
  }
}

/** Queues the estimate of each closed case for the HL7 push and deletes the MRN of abandoned ones. */
function pushClosedCases(workflow: WorkflowService, hl7: Hl7Service): void {
  workflow.events.on('case-closed', ({ record }) => hl7.pushClosedCase(record));
  workflow.events.on('case-abandoned', ({ caseId }) => hl7.forgetCase(caseId));
}

function child(logger: Logger, subsystem: string): Logger {
  return subsystemLogger(logger, subsystem);
}

/** Reads the most recently stored scan for the status page; null when none is stored or readable. */
function readLatestScan(store: Store, logger: Logger): ScanRecord | null {
  const row = store.db
    .select({ caseId: cases.caseId })
    .from(cases)
    .orderBy(desc(cases.createdAt))
    .limit(1)
    .get();
  if (!row) return null;
  try {
    return getCase(store, row.caseId);
  } catch (error) {
    logger.warn({ err: error, caseId: row.caseId }, 'latest stored scan could not be read');
    return null;
  }
}
