import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BvEdgeError } from './core/errors.ts';
import { readSecrets, type Config, type Secrets } from './config/index.ts';
import type { Logger } from './core/log.ts';
import { InferenceEngine } from './inference/engine.ts';
import { loadBundle } from './inference/bundle.ts';
import { engineOptionsFromConfig } from './inference/engine-options.ts';
import { estimateMessage } from './mqtt/payload.ts';
import { publisherOptionsFromConfig } from './mqtt/connection-config.ts';
import { OutboxPublisher, type DrainResult } from './mqtt/publisher.ts';
import { configuredTopicBase, estimatesTopic } from './mqtt/topics.ts';
import { runScan, type ScanRequest } from './scan/scan.ts';
import type { ScanRecord } from './scan/types.ts';
import { openDatabase, saveScan, type Store } from './store/index.ts';

export interface ScanOutcome {
  record: ScanRecord;
  delivery: DrainResult;
}

/**
 * The composition root: builds the store, the inference engine and the MQTT publisher from one
 * config and wires them. Constructing it does no work; `open()` does, `close()` undoes it.
 */
export class App {
  readonly config: Config;
  readonly logger: Logger;
  private storeInstance: Store | null = null;
  private engineInstance: InferenceEngine | null = null;
  private publisherInstance: OutboxPublisher | null = null;
  private secrets: Secrets | null = null;

  constructor(config: Config, logger: Logger) {
    this.config = config;
    this.logger = logger;
  }

  get store(): Store {
    if (!this.storeInstance) throw new Error('App.open() has not been called');
    return this.storeInstance;
  }

  get engine(): InferenceEngine {
    if (!this.engineInstance) throw new Error('App.open() has not been called');
    return this.engineInstance;
  }

  /** Whether the MQTT publisher is connected now; false before the first scan. */
  get mqttConnected(): boolean {
    return this.publisherInstance?.connected ?? false;
  }

  async open(): Promise<void> {
    try {
      mkdirSync(this.config.dataDir, { recursive: true });
    } catch (cause) {
      throw new BvEdgeError(
        'data_dir_invalid',
        `Cannot create the data folder ${this.config.dataDir}: ${(cause as Error).message}. ` +
          'Pass --data-dir (or set BV_EDGE_HOME) with a writable folder.',
        { value: this.config.dataDir, cause },
      );
    }
    // Secret files are read before any work, so a missing password file fails the command early.
    this.secrets = await readSecrets(this.config, this.logger.child({ subsystem: 'config' }));
    this.storeInstance = openDatabase(
      join(this.config.dataDir, 'bv-edge.sqlite'),
      this.logger.child({ subsystem: 'store' }),
    );
    const bundle = await loadBundle(this.config.modelDir);
    this.engineInstance = await InferenceEngine.create(
      bundle,
      engineOptionsFromConfig(this.config, this.logger.child({ subsystem: 'inference' })),
    );
  }

  /** Scans, stores the case with its outbox message in one transaction, then tries to deliver. */
  async scan(request: ScanRequest): Promise<ScanOutcome> {
    const record = await runScan(request, this.engine, this.logger.child({ subsystem: 'scan' }));
    const topic = estimatesTopic(configuredTopicBase(this.config.mqtt));
    saveScan(this.store, record, [
      { topic, kind: 'estimate', payload: estimateMessage(record), qos: 1 },
    ]);
    // drain() connects on first use and returns with the messages still queued when it cannot.
    const publisher = this.publisher();
    const delivery = await publisher.drain({ timeoutMs: this.config.mqtt.publishTimeoutMs });
    return { record, delivery };
  }

  private publisher(): OutboxPublisher {
    if (!this.publisherInstance) {
      if (!this.secrets) throw new Error('App.open() has not been called');
      this.publisherInstance = new OutboxPublisher(
        publisherOptionsFromConfig(
          this.config,
          this.secrets,
          this.store,
          this.logger.child({ subsystem: 'mqtt' }),
        ),
      );
    }
    return this.publisherInstance;
  }

  async close(): Promise<void> {
    await this.publisherInstance?.stop();
    await this.engineInstance?.close();
    this.storeInstance?.close();
    this.publisherInstance = null;
    this.engineInstance = null;
    this.storeInstance = null;
  }
}
