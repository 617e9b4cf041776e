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

  constructor(private readonly logger: Logger) {}

  /** Calls `listener` for every event until the returned function is called. */
  on(listener: ModelEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(type: ModelEventType, data: Record<string, unknown>): void {
    const level = type.endsWith('-rejected') || type.endsWith('-failed') ? 'warn' : 'info';
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
