import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { desc } from 'drizzle-orm';
import { bearerAuth } from 'hono/bearer-auth';

import type { Config, Secret } from './config/index.ts';
import type { FrameSource } from './core/frames.ts';
import type { Logger } from './core/log.ts';
import { createStatusApp, serveStatus, type StatusServer } from './http/index.ts';
import { engineOptionsFromConfig } from './inference/engine-options.ts';
import { loadBundle } from './inference/bundle.ts';
import { InferenceEngine } from './inference/engine.ts';
import { OutboxPublisher } from './mqtt/publisher.ts';
import { defaultTopicBase, estimatesTopic } from './mqtt/topics.ts';
import type { ScanRecord } from './scan/types.ts';
import { getCase, openDatabase, outboxStats, type Store } from './store/index.ts';
import { cases } from './store/schema.ts';
import { createWorkflowApi } from './workflow/api.ts';
import { WorkflowService } from './workflow/service.ts';
import type { WorkflowSettings } from './workflow/settings.ts';

export interface DaemonOptions {
  config: Config;
  workflow: WorkflowSettings;
  /**
   * Address of the status page and the workflow API, or null to serve nothing. With a token, the
   * workflow API accepts only requests that carry it as a bearer token.
   */
  http: { host: string; port: number; token?: Secret | null } | null;
  /** Live frames; the daemon reads them but does not start the source. */
  frameSource: FrameSource;
  /** Stops the frame source first on shutdown, so producers stop before the services they feed. */
  stopFrameSource?: () => Promise<void>;
  logger: Logger;
}

/** The services of a running daemon, in start order. */
interface Services {
  store: Store;
  engine?: InferenceEngine;
  publisher?: OutboxPublisher;
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
  private readonly options: DaemonOptions;
  private readonly logger: Logger;
  private services: Services | null = null;
  private latestScan: ScanRecord | null = null;
  private startedAt = '';

  constructor(options: DaemonOptions) {
    this.options = options;
    this.logger = options.logger.child({ subsystem: 'daemon' });
  }

  get workflow(): WorkflowService {
    const workflow = this.services?.workflow;
    if (!workflow) throw new Error('Daemon.start() has not completed');
    return workflow;
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
    mkdirSync(config.dataDir, { recursive: true });
    const store = openDatabase(join(config.dataDir, 'bv-edge.sqlite'), child(logger, 'store'));
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

  /** Stops every started service in reverse order. Returns false when any of them failed to stop. */
  async stop(): Promise<boolean> {
    const services = this.services;
    if (!services) return true;
    this.services = null;
    const steps: [string, (() => Promise<void> | void) | undefined][] = [
      ['capture', this.options.stopFrameSource],
      ['workflow', services.workflow && (() => services.workflow!.stop())],
      ['http', services.server && (() => services.server!.close())],
      ['mqtt', services.publisher && (() => services.publisher!.stop())],
      ['inference', services.engine && (() => services.engine!.close())],
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
    signal?.throwIfAborted();
    services.engine = await InferenceEngine.create(
      await loadBundle(config.modelDir),
      engineOptionsFromConfig(config, child(logger, 'inference')),
    );
    signal?.throwIfAborted();
    services.publisher = new OutboxPublisher({
      store: services.store,
      brokerUrl: config.mqtt.url,
      clientId: `bv-edge-${config.mqtt.device}`,
      logger: child(logger, 'mqtt'),
      connectTimeoutMs: config.mqtt.publishTimeoutMs,
    });
    await services.publisher.start();
    signal?.throwIfAborted();
    services.workflow = this.createWorkflow(services.store, services.engine, services.publisher);
    await services.workflow.start();
    if (this.options.http) services.server = await this.serve(services, this.options.http);
  }

  private createWorkflow(
    store: Store,
    engine: InferenceEngine,
    publisher: OutboxPublisher,
  ): WorkflowService {
    const { config, logger } = this.options;
    const workflow = new WorkflowService({
      store,
      engine,
      source: this.options.frameSource,
      settings: this.options.workflow,
      estimateTopic: estimatesTopic(defaultTopicBase(config.mqtt.site, config.mqtt.device)),
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
    const app = createStatusApp(() => ({
      latestScan: this.latestScan,
      outbox: outboxStats(services.store.db),
      mqttConnected: services.publisher?.connected ?? false,
      startedAt: this.startedAt,
      capture: { state: this.options.frameSource.state, fps: this.options.frameSource.fps },
      executionProviders: services.engine?.providers,
    }));
    if (http.token) {
      const auth = bearerAuth({ token: http.token.reveal() });
      app.use('/api/workflow', auth);
      app.use('/api/workflow/*', auth);
    }
    app.route('/api/workflow', createWorkflowApi(services.workflow!, child(this.logger, 'api')));
    return serveStatus(app, { host: http.host, port: http.port });
  }
}

function child(logger: Logger, subsystem: string): Logger {
  return logger.child({ subsystem });
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
