import { join } from 'node:path';

import type { Config } from '../config/index.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { loadBundle, sha256Hex, type ModelBundle } from '../inference/bundle.ts';
import { engineOptionsFromConfig } from '../inference/engine-options.ts';
import { InferenceEngine, type ExecutionProvider } from '../inference/engine.ts';
import type { Store } from '../store/index.ts';
import { BundleStore, type BundleSlot, type BundleState } from './bundle-store.ts';
import { checkCompatibility, daemonVersion } from './compat.ts';
import { downloadArchive } from './download.ts';
import { ModelEvents } from './events.ts';
import { installArchive, type InstalledBundle } from './installer.ts';
import {
  auditModel,
  closeInterruptedInstalls,
  recordInstallEnd,
  recordInstallStart,
  type InstallSource,
} from './records.ts';
import { parsePublicKey, type TrustedKey } from './signing.ts';
import { ChunkReceiver } from './transfers.ts';
import { Activator, type EngineHost } from './activation.ts';

export type { EngineHost } from './activation.ts';

const MIB = 2 ** 20;

/** A bundle as status and the fleet `info` show it. */
export interface BundleInfo {
  name: string;
  version: string;
  /** `installed` for a bundle in the store, `configured` for the config's modelDir. */
  source: BundleSlot['source'];
  intendedUse: string;
}

export interface BundlesInfo {
  active: BundleInfo | null;
  previous: BundleInfo | null;
  /** `pending` until the health gate of the last activation passed. */
  gate: BundleState['gate'];
}

export interface ModelManagerOptions {
  config: Config;
  store: Store;
  logger: Logger;
  /** Creates an engine for a bundle; default InferenceEngine.create with the config's options. */
  createEngine?: (bundle: ModelBundle, providers: ExecutionProvider[]) => Promise<InferenceEngine>;
  /** Default: the version in package.json. */
  daemonVersion?: string;
  /** True when the caller prints each outcome itself (the CLI): events are then logged at debug. */
  quietEvents?: boolean;
  /** Wraps each engine that an activation or rollback hands to the workflow, e.g. for timing. */
  prepareEngine?: (engine: InferenceEngine) => InferenceEngine;
}

/** The result of an install request. */
export interface InstallOutcome {
  name: string;
  version: string;
  keyId: string;
  archiveSha256: string;
  alreadyInstalled: boolean;
  /** `none` unless activation was requested; the activation itself is reported as events. */
  activation: 'none' | 'activated' | 'waiting-for-case' | 'failed';
}

export interface InstallRequest {
  actor: string;
  activate: boolean;
}

/**
 * Model delivery on the device: installs signed bundle archives from a file, an HTTPS URL or
 * MQTT chunks into the bundle store, activates them between cases behind a health gate and
 * rolls back to the previous bundle. Every step is logged, emitted on `events` and written to
 * the audit log (install, reject, activate, rollback).
 */
export class ModelManager {
  readonly events: ModelEvents;
  readonly bundleStore: BundleStore;
  readonly transfers: ChunkReceiver;
  private readonly options: ModelManagerOptions;
  private readonly logger: Logger;
  private readonly trustedKeys: TrustedKey[];
  private readonly activator: Activator;
  private installQueue: Promise<unknown> = Promise.resolve();

  constructor(options: ModelManagerOptions) {
    this.options = options;
    this.logger = options.logger;
    this.events = new ModelEvents(options.logger, options.quietEvents ?? false);
    const { config } = options;
    const dir = config.models.bundlesDir ?? join(config.dataDir, 'models');
    this.bundleStore = new BundleStore(dir, config.modelDir);
    this.trustedKeys = config.models.trustedKeys.map((key, i) =>
      parsePublicKey(key, `models.trustedKeys[${i}]`),
    );
    this.transfers = new ChunkReceiver(
      options.store,
      this.bundleStore.incomingDir,
      config.models.maxBundleMb * MIB,
      options.logger,
    );
    this.activator = new Activator({
      bundleStore: this.bundleStore,
      store: options.store,
      events: this.events,
      logger: options.logger,
      healthGateInferences: config.models.healthGateInferences,
      createEngine: (slot) => this.createEngine(slot),
      prepareEngine: options.prepareEngine ?? ((engine) => engine),
    });
  }

  /** Creates the folders, removes what an interrupted install left and reads the state. */
  async open(): Promise<void> {
    await this.bundleStore.open(this.logger);
    await this.transfers.recover();
    const interrupted = closeInterruptedInstalls(this.options.store);
    if (interrupted > 0) this.logger.warn({ interrupted }, 'installs interrupted by a stop');
    await this.activator.open();
  }

  /** Returns the active and previous bundles, for status and the fleet `info`. */
  bundles(): BundlesInfo {
    return this.activator.info();
  }

  /**
   * Loads the engine to start with: the active bundle, else the previous one, else the
   * configured one. See Activator.loadStartEngine.
   */
  loadStartEngine(): Promise<InferenceEngine> {
    return this.activator.loadStartEngine();
  }

  /** Returns whether a case is open, so that an activation or rollback waits for it to end. */
  isCaseOpen(): boolean {
    return this.activator.isCaseOpen();
  }

  /** Lets the manager swap the engine of `host` (the workflow) between cases. */
  attach(host: EngineHost): void {
    this.activator.attach(host);
  }

  /** See Activator.activate. */
  activate(version: string, actor: string): ReturnType<Activator['activate']> {
    return this.activator.activate(version, actor);
  }

  /** See Activator.rollback. */
  rollback(actor: string, reason: string): ReturnType<Activator['rollback']> {
    return this.activator.rollback(actor, reason);
  }

  /** Settles when the activations and rollbacks requested so far are done; null before any. */
  get pending(): Promise<unknown> | null {
    return this.activator.pending;
  }

  /**
   * Cancels a health gate in progress and releases an engine that waits for a case to end;
   * call before the workflow stops.
   */
  close(): Promise<void> {
    return this.activator.close();
  }

  /** Installs archive bytes, e.g. a local file. */
  installBytes(
    bytes: Uint8Array,
    source: InstallSource,
    request: InstallRequest,
  ): Promise<InstallOutcome> {
    return this.serialInstall(source, sha256Hex(bytes), request, async () => bytes);
  }

  /** Downloads an archive over HTTPS, checks its SHA-256 and installs it. */
  installUrl(url: string, sha256: string, request: InstallRequest): Promise<InstallOutcome> {
    const { models } = this.options.config;
    return this.serialInstall('url', sha256, request, () =>
      downloadArchive(url, {
        sha256,
        maxBytes: models.maxBundleMb * MIB,
        timeoutMs: models.downloadTimeoutS * 1000,
        ...(models.downloadCaFile !== undefined && { caFile: models.downloadCaFile }),
      }),
    );
  }

  /** Records a rejection that happened before an install could start, e.g. a bad transfer. */
  recordRejection(
    source: InstallSource,
    archiveSha256: string | null,
    actor: string,
    error: BvEdgeError,
  ): void {
    const seq = recordInstallStart(this.options.store, source, archiveSha256);
    this.reject(seq, source, archiveSha256, actor, error);
  }

  private serialInstall(
    source: InstallSource,
    archiveSha256: string,
    request: InstallRequest,
    read: () => Promise<Uint8Array>,
  ): Promise<InstallOutcome> {
    const result = this.installQueue.then(() => this.install(source, archiveSha256, request, read));
    this.installQueue = result.catch(() => undefined);
    return result;
  }

  private async install(
    source: InstallSource,
    archiveSha256: string,
    request: InstallRequest,
    read: () => Promise<Uint8Array>,
  ): Promise<InstallOutcome> {
    const { store } = this.options;
    const seq = recordInstallStart(store, source, archiveSha256);
    this.events.emit('model-install-started', { source, archiveSha256 });
    let installed: InstalledBundle;
    try {
      installed = await installArchive(await read(), this.installOptions());
    } catch (error) {
      if (error instanceof BvEdgeError)
        this.reject(seq, source, archiveSha256, request.actor, error);
      throw error;
    }
    const { name, version, keyId } = installed;
    recordInstallEnd(store, seq, { state: 'installed', name, version, keyId, archiveSha256 });
    const summary = { name, version, keyId, archiveSha256, source, dir: installed.dir };
    if (!installed.alreadyInstalled)
      auditModel(store, request.actor, 'model.install', null, summary);
    this.events.emit('model-installed', {
      ...summary,
      alreadyInstalled: installed.alreadyInstalled,
    });
    const outcome = {
      name,
      version,
      keyId,
      archiveSha256,
      alreadyInstalled: installed.alreadyInstalled,
    };
    if (!request.activate) return { ...outcome, activation: 'none' };
    return { ...outcome, activation: await this.activator.startActivation(version, request.actor) };
  }

  private reject(
    seq: number,
    source: InstallSource,
    archiveSha256: string | null,
    actor: string,
    error: BvEdgeError,
  ): void {
    const { store } = this.options;
    recordInstallEnd(store, seq, {
      state: 'rejected',
      reasonCode: error.code,
      reason: error.message,
    });
    const details = { source, archiveSha256, code: error.code, reason: error.message };
    auditModel(store, actor, 'model.reject', null, details);
    this.events.emit('model-rejected', details);
  }

  private installOptions(): Parameters<typeof installArchive>[1] {
    const { config, logger } = this.options;
    return {
      store: this.bundleStore,
      trustedKeys: this.trustedKeys,
      providers: config.providers,
      daemonVersion: this.options.daemonVersion ?? daemonVersion(),
      maxBytes: config.models.maxBundleMb * MIB,
      minFreeBytes: config.models.minFreeMb * MIB,
      tensorrt: engineOptionsFromConfig(config, logger).tensorrt ?? {},
      logger,
      onStep: (step, details) => this.events.emit('model-install-step', { step, ...details }),
    };
  }

  private async createEngine(slot: BundleSlot): Promise<InferenceEngine> {
    const bundle = await loadBundle(this.bundleStore.dirOf(slot));
    const { config } = this.options;
    const providers = checkCompatibility(bundle.manifest, {
      daemonVersion: this.options.daemonVersion ?? daemonVersion(),
      providers: config.providers,
    });
    if (this.options.createEngine) return this.options.createEngine(bundle, providers);
    // The engine logs under the manager's own subsystem: a second subsystem binding on a pino
    // child logger would repeat the key in every line.
    const engineOptions = engineOptionsFromConfig(config, this.logger);
    return InferenceEngine.create(bundle, { ...engineOptions, providers });
  }
}
