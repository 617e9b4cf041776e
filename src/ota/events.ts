import type { Logger } from '../core/log.ts';

/** Events of model delivery, sent on the fleet events topic and logged. */
export type ModelEventType =
  | 'model-install-started'
  | 'model-install-step'
  | 'model-installed'
  | 'model-rejected'
  | 'model-transfer-progress'
  | 'model-chunk-rejected'
  | 'model-activation-waiting'
  | 'model-activated'
  | 'model-activation-failed'
  | 'model-rollback-failed'
  | 'model-health-passed'
  | 'model-health-failed'
  | 'model-rolled-back';

export type ModelEventListener = (type: ModelEventType, data: Record<string, unknown>) => void;

/** Delivers model events to listeners; a listener that throws is logged and skipped. */
export class ModelEvents {
  private readonly listeners = new Set<ModelEventListener>();

  /**
   * `quiet` logs every event at debug level, for a caller that prints the outcome itself, such
   * as the CLI, so that a user does not read each failure twice.
   */
  constructor(
    private readonly logger: Logger,
    private readonly quiet = false,
  ) {}

  /** Calls `listener` for every event until the returned function is called. */
  on(listener: ModelEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(type: ModelEventType, data: Record<string, unknown>): void {
    const failure = type.endsWith('-rejected') || type.endsWith('-failed');
    let level: 'debug' | 'warn' | 'info' = failure ? 'warn' : 'info';
    if (this.quiet) level = 'debug';
    this.logger[level]({ event: type, ...data }, `model event ${type}`);
    for (const listener of [...this.listeners]) {
      try {
        listener(type, data);
      } catch (error) {
        this.logger.error({ err: error, event: type }, 'model event listener failed');
      }
    }
  }
}
