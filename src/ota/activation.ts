import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { MANIFEST_FILE } from '../inference/bundle.ts';
import type { InferenceEngine } from '../inference/engine.ts';
import type { Store } from '../store/index.ts';
import {
  CONFIGURED,
  sameSlot,
  slotLabel,
  type BundleSlot,
  type BundleState,
  type BundleStore,
} from './bundle-store.ts';
import type { ModelEvents } from './events.ts';
import { HealthGate } from './health-gate.ts';
import type { BundleInfo, BundlesInfo } from './manager.ts';
import { auditModel } from './records.ts';

/** Audit actor of the steps the device takes by itself. */
const DEVICE_ACTOR = 'bv-edge';

/** The workflow as the activator uses it: its engine and the swap between cases. */
export interface EngineHost {
  readonly engine: InferenceEngine;
  /** Waits until no case is open, swaps in `engine` and returns the replaced one. */
  replaceEngine(engine: InferenceEngine): Promise<InferenceEngine>;
  /** The open case, or null when none is open. */
  snapshot(): unknown;
}

export interface ActivatorOptions {
  bundleStore: BundleStore;
  store: Store;
  events: ModelEvents;
  logger: Logger;
  healthGateInferences: number;
  createEngine: (slot: BundleSlot) => Promise<InferenceEngine>;
  /** Wraps an engine before the workflow gets it. */
  prepareEngine: (engine: InferenceEngine) => InferenceEngine;
}

export interface SwitchResult {
  active: string;
  previous: string;
  /** True when the bundle was active already and nothing changed. */
  unchanged: boolean;
  /** False when no daemon engine was swapped: the change applies at the next daemon start. */
  live: boolean;
}

async function readInfo(dir: string, slot: BundleSlot): Promise<BundleInfo> {
  try {
    const raw = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as BundleInfo;
    const { name, version, intendedUse } = raw;
    return { name, version, intendedUse, source: slot.source };
  } catch {
    const version = slot.source === 'installed' ? slot.version : 'unknown';
    return { name: 'unreadable', version, intendedUse: 'unknown', source: slot.source };
  }
}

/**
 * Switches the active bundle: activation of an installed version with its health gate,
 * rollback to the previous bundle, and the choice of the bundle to start with. Switches run one
 * at a time, and a running daemon's engine changes only between cases.
 */
export class Activator {
  /** Settles when the activations and rollbacks requested so far are done; null before any. */
  pending: Promise<unknown> | null = null;
  private state!: BundleState;
  private cachedInfo: BundlesInfo = { active: null, previous: null, gate: 'passed' };
  private host: EngineHost | null = null;
  private gate: HealthGate | null = null;
  /** A gate created at start for a bundle whose gate was pending, run once a host attaches. */
  private startGate: HealthGate | null = null;
  /** An engine created for a switch that waits for the open case to end. */
  private waitingEngine: InferenceEngine | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ActivatorOptions) {}

  async open(): Promise<void> {
    this.state = await this.options.bundleStore.readState();
    await this.refreshInfo();
  }

  info(): BundlesInfo {
    return this.cachedInfo;
  }

  /**
   * Loads the active bundle's engine. When it fails to load, the previous bundle and then the
   * configured one are tried, and the fallback is stored and audited as a rollback, so that a
   * cart is never left without a model. A bundle whose health gate was pending gets a new gate.
   */
  async loadStartEngine(): Promise<InferenceEngine> {
    const { active, previous } = this.state;
    const candidates = [active, previous, CONFIGURED].filter(
      (slot, i, all): slot is BundleSlot =>
        slot !== null && all.findIndex((other) => sameSlot(other, slot)) === i,
    );
    let lastError: unknown;
    for (const slot of candidates) {
      let engine: InferenceEngine;
      try {
        engine = await this.options.createEngine(slot);
      } catch (error) {
        lastError = error;
        this.options.logger.error(
          { err: error, bundle: slotLabel(slot) },
          'model bundle failed to load at start; trying the next one',
        );
        continue;
      }
      if (!sameSlot(slot, active)) {
        const reason = `the active bundle ${slotLabel(active)} failed to load: ${(lastError as Error).message}`;
        const gate = this.gateOf(slot);
        await this.recordSwitch(slot, active, DEVICE_ACTOR, 'model.rollback', { reason }, gate);
        this.options.events.emit('model-rolled-back', {
          from: slotLabel(active),
          to: slotLabel(slot),
          reason,
        });
      }
      if (this.state.gate === 'pending') {
        this.startGate = new HealthGate(engine, this.options.healthGateInferences);
        return this.startGate.engine;
      }
      return engine;
    }
    throw lastError;
  }

  /** Returns whether a case is open on the attached workflow, so a switch would wait for it. */
  isCaseOpen(): boolean {
    return this.host !== null && this.host.snapshot() !== null;
  }

  attach(host: EngineHost): void {
    this.host = host;
    if (this.startGate) this.watchGate(this.startGate, this.state.active);
    this.startGate = null;
  }

  /**
   * Cancels the health gate in progress and releases an engine still waiting for a case to
   * end, at shutdown. The workflow's own engine is the daemon's to close.
   */
  async close(): Promise<void> {
    this.cancelGate();
    const waiting = this.waitingEngine;
    this.waitingEngine = null;
    if (waiting) await this.closeEngine(waiting);
  }

  private cancelGate(): void {
    this.gate?.cancel();
    this.gate = null;
  }

  /**
   * Starts activating `version` and returns `activated` once the engine is swapped, or at once
   * `waiting-for-case` while a case is open; `failed` when it was rejected. The outcome is
   * reported as events either way.
   */
  async startActivation(
    version: string,
    actor: string,
  ): Promise<'activated' | 'waiting-for-case' | 'failed'> {
    const waiting = this.isCaseOpen();
    const done = this.activate(version, actor);
    if (waiting) {
      done.catch(() => undefined);
      return 'waiting-for-case';
    }
    try {
      await done;
      return 'activated';
    } catch {
      return 'failed';
    }
  }

  /**
   * Makes installed `version` the active bundle. With a workflow attached, it waits until no
   * case is open, swaps the engine and starts the health gate. Without one (the CLI), it runs
   * the test vector, stores the change and leaves the gate to the next daemon start.
   */
  activate(version: string, actor: string): Promise<SwitchResult> {
    return this.serial(async () => {
      try {
        return await this.switchTo({ source: 'installed', version }, actor);
      } catch (error) {
        this.reportFailure('model-activation-failed', actor, { version }, error);
        throw error;
      }
    });
  }

  /** Activates the previous bundle again; `reason` goes to the audit log and the events. */
  rollback(actor: string, reason: string): Promise<SwitchResult> {
    return this.serial(async () => {
      try {
        return await this.rollBack(actor, reason);
      } catch (error) {
        this.reportFailure('model-rollback-failed', actor, { reason }, error);
        throw error;
      }
    });
  }

  /** Reports a failed switch as an event and, for an activation, in the audit log. */
  private reportFailure(
    type: 'model-activation-failed' | 'model-rollback-failed',
    actor: string,
    details: Record<string, unknown>,
    error: unknown,
  ): void {
    const code = error instanceof BvEdgeError ? error.code : 'internal_error';
    const failure = { ...details, code, reason: (error as Error).message };
    if (type === 'model-activation-failed') {
      auditModel(this.options.store, actor, 'model.reject', null, {
        stage: 'activation',
        ...failure,
      });
    }
    this.options.events.emit(type, failure);
  }

  private serial<T>(action: () => Promise<T>): Promise<T> {
    const result = this.queue.then(action);
    this.queue = result.catch(() => undefined);
    this.pending = this.queue;
    return result;
  }

  private async switchTo(slot: BundleSlot, actor: string): Promise<SwitchResult> {
    const version = slotLabel(slot);
    if (slot.source === 'installed') await this.checkInstalled(slot.version);
    const before = this.state;
    const live = this.host !== null;
    if (sameSlot(slot, before.active)) {
      return { active: version, previous: slotLabel(before.previous), unchanged: true, live };
    }

    this.cancelGate();
    const engine = await this.options.createEngine(slot);
    const gate = new HealthGate(engine, this.options.healthGateInferences);
    if (this.host) {
      if (this.host.snapshot() !== null) {
        this.options.events.emit('model-activation-waiting', { version });
      }
      await this.swapIn(gate.engine);
    } else {
      await this.checkOffline(gate, engine, version);
    }

    await this.recordSwitch(slot, before.active, actor, 'model.activate', {}, 'pending');
    const previous = slotLabel(before.active);
    this.options.events.emit('model-activated', { version, previous, live });
    if (this.host) this.watchGate(gate, slot);
    return { active: version, previous, unchanged: false, live };
  }

  private async checkInstalled(version: string): Promise<void> {
    const { bundleStore } = this.options;
    if (bundleStore.isInstalled(version)) return;
    const installed = (await bundleStore.installedVersions()).join(', ') || 'none';
    throw new BvEdgeError(
      'bundle_not_installed',
      `Bundle version ${version} is not installed (installed: ${installed}). Install it first.`,
      { value: version },
    );
  }

  /** Runs the test vector without a daemon and releases the engine; throws when it fails. */
  private async checkOffline(gate: HealthGate, engine: InferenceEngine, version: string) {
    const failure = await gate.runTestVector();
    gate.cancel();
    await engine.close();
    if (failure !== null) {
      throw new BvEdgeError('test_vector_failed', `Bundle ${version}: ${failure}.`);
    }
  }

  private async rollBack(actor: string, reason: string): Promise<SwitchResult> {
    const { active, previous } = this.state;
    if (!previous) {
      throw new BvEdgeError(
        'no_previous_bundle',
        `There is no previous bundle to roll back to; ${slotLabel(active)} stays active.`,
      );
    }
    this.cancelGate();
    const gateState = this.gateOf(previous);
    const engine = await this.options.createEngine(previous);
    const gate =
      gateState === 'pending' ? new HealthGate(engine, this.options.healthGateInferences) : null;
    if (this.host) {
      await this.swapIn(gate ? gate.engine : engine);
    } else {
      await engine.close();
    }
    await this.recordSwitch(previous, active, actor, 'model.rollback', { reason }, gateState);
    this.options.events.emit('model-rolled-back', {
      from: slotLabel(active),
      to: slotLabel(previous),
      reason,
    });
    if (gate && this.host) this.watchGate(gate, previous);
    return {
      active: slotLabel(previous),
      previous: slotLabel(active),
      unchanged: false,
      live: this.host !== null,
    };
  }

  /**
   * Returns the stored health-gate state of `slot`. The configured bundle needs no gate, and an
   * installed bundle whose gate was never recorded as passed is `pending`.
   */
  private gateOf(slot: BundleSlot): BundleState['gate'] {
    if (slot.source === 'configured') return 'passed';
    if (sameSlot(slot, this.state.active)) return this.state.gate;
    if (sameSlot(slot, this.state.previous)) return this.state.previousGate ?? 'pending';
    return 'pending';
  }

  /**
   * Stores the new state and appends the audit entry of a switch. `from` is the active bundle
   * before the switch, so its gate state becomes the previous bundle's.
   */
  private async recordSwitch(
    to: BundleSlot,
    from: BundleSlot,
    actor: string,
    action: 'model.activate' | 'model.rollback',
    details: Record<string, unknown>,
    gate: BundleState['gate'],
  ): Promise<void> {
    const before = this.state;
    this.state = await this.options.bundleStore.writeState({
      active: to,
      previous: from,
      gate,
      previousGate: before.gate,
    });
    await this.refreshInfo();
    auditModel(
      this.options.store,
      actor,
      action,
      { active: slotLabel(before.active), previous: slotLabel(before.previous) },
      { active: slotLabel(to), previous: slotLabel(from), ...details },
    );
  }

  /** Runs the gate's test vector, waits for its verdict, and rolls back on failure. */
  private watchGate(gate: HealthGate, slot: BundleSlot): void {
    this.gate = gate;
    const watch = async (): Promise<void> => {
      await gate.runTestVector();
      const result = await gate.result;
      if (this.gate !== gate) return;
      this.gate = null;
      const version = slotLabel(slot);
      if (result.passed) {
        this.state = await this.options.bundleStore.writeState({ ...this.state, gate: 'passed' });
        await this.refreshInfo();
        this.options.events.emit('model-health-passed', { version, inferences: result.inferences });
        return;
      }
      this.options.events.emit('model-health-failed', {
        version,
        code: result.code,
        reason: result.reason,
        inferences: result.inferences,
      });
      await this.rollback(DEVICE_ACTOR, `health gate failed for ${version}: ${result.reason}`);
    };
    watch().catch((error: unknown) => {
      this.options.logger.error({ err: error }, 'health gate supervision failed');
    });
  }

  /** Hands `engine` to the workflow between cases and closes the engine it replaces. */
  private async swapIn(engine: InferenceEngine): Promise<void> {
    this.waitingEngine = engine;
    let replaced: InferenceEngine;
    try {
      replaced = await this.host!.replaceEngine(this.options.prepareEngine(engine));
    } catch (error) {
      await this.closeEngine(engine);
      throw error;
    } finally {
      this.waitingEngine = null;
    }
    await this.closeEngine(replaced);
  }

  private async closeEngine(engine: InferenceEngine): Promise<void> {
    try {
      await engine.close();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'replaced inference engine failed to close');
    }
  }

  private async refreshInfo(): Promise<void> {
    const { active, previous, gate } = this.state;
    const { bundleStore } = this.options;
    this.cachedInfo = {
      active: await readInfo(bundleStore.dirOf(active), active),
      previous: previous ? await readInfo(bundleStore.dirOf(previous), previous) : null,
      gate,
    };
  }
}
