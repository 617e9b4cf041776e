import { EventEmitter } from 'node:events';

import type { ViewName } from '../core/image.ts';
import type { Notice } from '../core/notice.ts';
import type { Logger } from '../core/log.ts';
import type { Covariates, ScanRecord, ViewResult } from '../scan/types.ts';
import type { CaseEstimate, RecordingProgress, ViewAttempt } from './types.ts';

/** Payload of each workflow event, keyed by event name. Every payload names its case. */
export interface WorkflowEvents {
  'case-opened': { caseId: string; covariates: Covariates; requiredViews: ViewName[] };
  /** A case that was open when the daemon stopped, loaded again on start. */
  'case-restored': { caseId: string; acceptedViews: ViewName[]; notice: Notice | null };
  'recording-started': { caseId: string; view: ViewName; durationS: number };
  'recording-progress': { caseId: string } & RecordingProgress;
  'recording-finished': {
    caseId: string;
    view: ViewName;
    frameCount: number;
    durationS: number;
    endedBy: ViewAttempt['endedBy'];
  };
  'quality-checked': { caseId: string; attempt: ViewAttempt };
  'view-accepted': { caseId: string; view: ViewName; result: ViewResult };
  /** The operator discarded a recording in progress or an attempt under review. */
  retake: { caseId: string; view: ViewName };
  'estimate-ready': { caseId: string } & CaseEstimate;
  'case-closed': { caseId: string; record: ScanRecord };
  'case-abandoned': { caseId: string };
}

export type WorkflowEventName = keyof WorkflowEvents;

/** One event with its name, for listeners that take every event (a page feed, MQTT). */
export type WorkflowEvent = {
  [K in WorkflowEventName]: { type: K } & WorkflowEvents[K];
}[WorkflowEventName];

/** Key under which `onAny` listeners are registered on the underlying emitter. */
const ANY = Symbol('any workflow event');

/**
 * Delivers workflow events to listeners. A listener that throws is logged and does not stop the
 * other listeners or the workflow, because a page or MQTT fault must never abort a scan.
 */
export class WorkflowEventBus {
  private readonly emitter = new EventEmitter();
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger;
    // The page, MQTT and tests may each subscribe to every event.
    this.emitter.setMaxListeners(50);
  }

  /** Calls `listener` for each `name` event until the returned function is called. */
  on<K extends WorkflowEventName>(
    name: K,
    listener: (payload: WorkflowEvents[K]) => void,
  ): () => void {
    return this.register(name, listener as (payload: unknown) => void);
  }

  /** Calls `listener` for every event until the returned function is called. */
  onAny(listener: (event: WorkflowEvent) => void): () => void {
    return this.register(ANY, listener as (payload: unknown) => void);
  }

  emit<K extends WorkflowEventName>(name: K, payload: WorkflowEvents[K]): void {
    this.emitter.emit(name, payload);
    this.emitter.emit(ANY, { type: name, ...payload });
  }

  private register(key: string | symbol, listener: (payload: unknown) => void): () => void {
    const guarded = (payload: unknown): void => {
      try {
        listener(payload);
      } catch (error) {
        this.logger.error({ err: error, event: String(key) }, 'workflow event listener failed');
      }
    };
    this.emitter.on(key, guarded);
    return () => {
      this.emitter.off(key, guarded);
    };
  }
}
