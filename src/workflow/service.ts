import { BvEdgeError } from '../core/errors.ts';
import type { FrameSource } from '../core/frames.ts';
import type { ViewName } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import type { Notice } from '../core/notice.ts';
import type { InferenceEngine } from '../inference/engine.ts';
import { estimateMessage } from '../mqtt/payload.ts';
import { notice } from '../notices/index.ts';
import type { ScanRecord } from '../scan/types.ts';
import type { Store } from '../store/index.ts';
import {
  caseSnapshot,
  missingViews,
  moveToStep,
  restoredCase,
  scanRecordOf,
  type ActiveCase,
} from './active-case.ts';
import { buildAttempt } from './attempt.ts';
import { estimateCase } from './case-estimate.ts';
import {
  findCaseId,
  insertOpenCase,
  loadOpenCase,
  saveAcceptedView,
  storeAbandonedCase,
  storeClosedCase,
  updateCase,
  type StoredCase,
} from './case-store.ts';
import { WorkflowEventBus } from './events.ts';
import {
  busyNotice,
  checkRecordingDuration,
  checkRecordingOptions,
  checkSourceRecordable,
  checkView,
  invalidTransition,
  listParams,
  notNowNotice,
  nothingToRetakeNotice,
  resolveRequiredViews,
  type WorkflowAction,
} from './guards.ts';
import { validateOpenCase } from './open-case.ts';
import { qualityThresholds } from './quality.ts';
import { ClipRecorder, type RecordedClip } from './recorder.ts';
import type { WorkflowSettings } from './settings.ts';
import type {
  CaseSnapshot,
  OpenCaseRequest,
  RecordingOptions,
  ViewAttempt,
  WorkflowStep,
} from './types.ts';

export interface WorkflowServiceOptions {
  store: Store;
  engine: InferenceEngine;
  source: FrameSource;
  settings: WorkflowSettings;
  /** MQTT topic of the estimate message queued when a case closes. */
  estimateTopic: string;
  /** Called before a recording starts; throws a BvEdgeError to reject it (the disk-space floor). */
  recordingGuard?: (view: ViewName) => void;
  logger: Logger;
}

interface ActiveRecording {
  view: ViewName;
  durationS: number;
  recorder: ClipRecorder;
  /** Resolves with the checked attempt; rejects when the recording is discarded. */
  attempt: Promise<ViewAttempt>;
}

/**
 * The scan workflow: open a case, record each view from the live source, check its quality, let
 * the operator accept or retake it, estimate once the required views are accepted, and close the
 * case into the store and the outbox. The HTTP API, the CLI and tests all drive this one class.
 * Every state change is stored before it is announced, so an open case survives a restart.
 */
export class WorkflowService {
  readonly events: WorkflowEventBus;
  private readonly options: WorkflowServiceOptions;
  private readonly logger: Logger;
  private requiredViews: ViewName[] = [];
  private active: ActiveCase | null = null;
  private recording: ActiveRecording | null = null;
  /** Serialises state changes, so two requests never interleave their steps. */
  private queue: Promise<unknown> = Promise.resolve();
  private running = false;
  /** Size of the latest source frame, for the check of a seed; null until a frame arrives. */
  private frameSize: { width: number; height: number } | null = null;
  private unsubscribeFrames: (() => void) | null = null;

  constructor(options: WorkflowServiceOptions) {
    // A copy, because replaceEngine() swaps the engine in it.
    this.options = { ...options };
    this.logger = options.logger;
    this.events = new WorkflowEventBus(options.logger);
  }

  /** Checks the required views against the bundle and loads the case left open, if any. */
  async start(): Promise<void> {
    this.requiredViews = resolveRequiredViews(
      this.options.settings.requiredViews,
      this.options.engine.manifest,
    );
    const stored = loadOpenCase(this.options.store);
    this.unsubscribeFrames = this.options.source.subscribe(({ frame }) => {
      if (this.frameSize?.width !== frame.width || this.frameSize.height !== frame.height) {
        this.frameSize = { width: frame.width, height: frame.height };
      }
    });
    this.running = true;
    if (stored) await this.restore(stored);
    this.logger.info(
      { requiredViews: this.requiredViews, openCase: this.active?.caseId ?? null },
      'workflow started',
    );
  }

  /**
   * Discards a recording in progress and waits for an analysis to finish. The open case stays
   * stored; a discarded recording is reported when the case is restored.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribeFrames?.();
    this.unsubscribeFrames = null;
    const recording = this.recording;
    this.recording = null;
    recording?.recorder.cancel();
    await this.queue.catch(() => undefined);
    this.logger.info({ openCase: this.active?.caseId ?? null }, 'workflow stopped');
  }

  /** The engine that records and estimates run on now. */
  get engine(): InferenceEngine {
    return this.options.engine;
  }

  /**
   * Waits until no case is open, then makes `engine` the one the workflow uses and returns the
   * engine it replaced, which the caller closes. A case never changes engine in the middle. No
   * case can open during the swap, because the swap runs in the queue that opens cases. Rejects,
   * keeping the old engine, when the required views do not fit the new bundle's manifest.
   */
  async replaceEngine(engine: InferenceEngine): Promise<InferenceEngine> {
    for (;;) {
      await this.whenNoCaseOpen();
      const swapped = await this.exclusive(() => {
        if (this.active) return null;
        const requiredViews = resolveRequiredViews(
          this.options.settings.requiredViews,
          engine.manifest,
        );
        const previous = this.options.engine;
        this.options.engine = engine;
        this.requiredViews = requiredViews;
        this.logger.info(
          { model: engine.manifest.name, version: engine.manifest.version },
          'inference engine replaced between cases',
        );
        return previous;
      });
      // A case opened between the wait and the swap, so wait for that one too.
      if (swapped) return swapped;
    }
  }

  /**
   * Returns a promise that resolves at once when no case is open, else when the open case is
   * closed or abandoned.
   */
  whenNoCaseOpen(): Promise<void> {
    if (!this.active) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        offClosed();
        offAbandoned();
        resolve();
      };
      const offClosed = this.events.on('case-closed', done);
      const offAbandoned = this.events.on('case-abandoned', done);
    });
  }

  /** Returns the open case as the page shows it, or null when no case is open. */
  snapshot(): CaseSnapshot | null {
    return this.active ? caseSnapshot(this.active, this.recordingProgress()) : null;
  }

  async openCase(request: OpenCaseRequest): Promise<CaseSnapshot> {
    return this.exclusive(() => {
      this.requireRunning('openCase');
      if (this.active) {
        const { caseId } = this.active;
        throw invalidTransition(notice('notice.workflow.caseOpen', { caseId }), caseId);
      }
      const valid = validateOpenCase(request);
      this.checkCaseIdUnused(valid.caseId);
      const active: ActiveCase = {
        ...valid,
        openedAt: new Date().toISOString(),
        requiredViews: this.requiredViews,
        step: 'idle',
        activeView: null,
        pendingAttempt: null,
        accepted: new Map(),
        estimate: null,
        notice: null,
      };
      insertOpenCase(this.options.store, active);
      this.active = active;
      this.logger.info({ caseId: active.caseId }, 'case opened');
      this.events.emit('case-opened', {
        caseId: active.caseId,
        covariates: active.covariates,
        requiredViews: active.requiredViews,
      });
      return this.snapshot()!;
    });
  }

  /**
   * Starts recording `view` from the live source and returns once frames are being collected.
   * The recording ends after the configured duration or `stopRecording()`, then is checked;
   * `waitForAttempt()` returns the checked attempt.
   */
  async startRecording(view: ViewName, options: RecordingOptions = {}): Promise<CaseSnapshot> {
    return this.exclusive(async () => {
      const active = this.requireStep('idle', 'recordView');
      const checkedView = checkView(view);
      checkRecordingOptions(options, this.frameSize);
      checkRecordingDuration(
        options.durationS,
        qualityThresholds(this.options.settings, this.engine.manifest, checkedView).minDurationS,
      );
      this.options.recordingGuard?.(checkedView);
      // The phantom source switches to the view's clip here, and a scanner's source returns at once.
      await this.options.source.prepareView?.(checkedView);
      checkSourceRecordable(this.options.source.state, checkedView);
      this.beginRecording(active, checkedView, options);
      return this.snapshot()!;
    });
  }

  /** Ends the recording in progress early and returns its checked attempt. */
  async stopRecording(): Promise<ViewAttempt> {
    const recording = this.recording;
    if (!recording) throw invalidTransition(this.notRecordingNotice());
    recording.recorder.stop();
    return recording.attempt;
  }

  /** Returns the attempt of the recording in progress once checked, or the one under review. */
  async waitForAttempt(): Promise<ViewAttempt> {
    if (this.recording) return this.recording.attempt;
    // The check of a finished recording runs in the queue, so waiting for it ends 'analysing'.
    await this.queue.catch(() => undefined);
    const pending = this.active?.pendingAttempt;
    if (pending) return pending;
    throw invalidTransition(this.notRecordingNotice());
  }

  /** Records `view` to the end and returns its checked attempt. */
  async recordView(view: ViewName, options: RecordingOptions = {}): Promise<ViewAttempt> {
    await this.startRecording(view, options);
    return this.waitForAttempt();
  }

  /**
   * Accepts the attempt under review. Once every required view is accepted, the estimate is
   * computed from them, with the other views masked, and announced.
   */
  async acceptView(): Promise<CaseSnapshot> {
    return this.exclusive(async () => {
      const active = this.requireStep('review', 'acceptView');
      const attempt = active.pendingAttempt!;
      if (!attempt.quality.passed || !attempt.result) {
        throw invalidTransition(acceptFailedNotice(attempt), attempt.attemptId);
      }
      active.accepted.set(attempt.view, attempt.result);
      moveToStep(active, 'idle', null);
      active.notice = null;
      saveAcceptedView(this.options.store, active, attempt.attemptId, attempt.result);
      this.logger.info({ caseId: active.caseId, view: attempt.view }, 'view accepted');
      this.events.emit('view-accepted', {
        caseId: active.caseId,
        view: attempt.view,
        result: attempt.result,
      });
      if (missingViews(active).length === 0) await this.estimate(active);
      return this.snapshot()!;
    });
  }

  /** Discards the recording in progress or the attempt under review, so the view can be redone. */
  async retake(): Promise<CaseSnapshot> {
    return this.exclusive(() => {
      const active = this.requireCase('retakeView');
      const view = active.activeView;
      if (active.step === 'recording' && this.recording) {
        this.discardRecording();
      } else if (active.step !== 'review' || !view) {
        throw invalidTransition(nothingToRetakeNotice(active.step, view));
      }
      moveToStep(active, 'idle', null);
      updateCase(this.options.store, active);
      this.logger.info({ caseId: active.caseId, view }, 'retake');
      this.events.emit('retake', { caseId: active.caseId, view: view! });
      return this.snapshot()!;
    });
  }

  /**
   * Closes the case: stores the scan with its estimate and queues the estimate message in one
   * transaction. Rejects while a view is missing or a recording is in progress or under review.
   */
  async closeCase(): Promise<ScanRecord> {
    return this.exclusive(() => {
      const active = this.requireStep('idle', 'closeCase');
      const { caseId } = active;
      const missing = missingViews(active);
      if (missing.length > 0) {
        const { count, params } = listParams('view', missing);
        const rejected = notice(`notice.workflow.closeMissing.${count}`, { caseId, ...params });
        throw invalidTransition(rejected, missing);
      }
      if (!active.estimate) {
        // NOTE: the reason of a failed estimate is the inference error's English message, and the
        // page offers no close without an estimate, so only API clients receive it.
        const rejected = active.notice
          ? notice('notice.workflow.noEstimateReason', { caseId, reason: active.notice.text })
          : notice('notice.workflow.noEstimate', { caseId });
        throw invalidTransition(rejected);
      }
      const record = scanRecordOf(active);
      storeClosedCase(this.options.store, record, [
        {
          topic: this.options.estimateTopic,
          payload: estimateMessage(record),
          kind: 'estimate',
          qos: 1,
        },
      ]);
      this.active = null;
      this.logger.info(
        { caseId: record.caseId, estimateId: record.estimateId },
        'case closed and estimate queued',
      );
      this.events.emit('case-closed', { caseId: record.caseId, record });
      return record;
    });
  }

  /** Ends the open case without storing a scan; its accepted views are discarded. */
  async abandonCase(): Promise<void> {
    return this.exclusive(() => {
      const active = this.requireCase('abandonCase');
      if (this.recording) this.discardRecording();
      storeAbandonedCase(this.options.store, active.caseId);
      this.active = null;
      this.logger.info({ caseId: active.caseId }, 'case abandoned');
      this.events.emit('case-abandoned', { caseId: active.caseId });
    });
  }

  /**
   * Makes the stored case the active one. A stop between accepting the last required view and
   * storing the estimate leaves the case without one, so it is estimated again here.
   */
  private async restore(stored: StoredCase): Promise<void> {
    const active = restoredCase(stored);
    if (active.step !== stored.step) updateCase(this.options.store, active);
    this.active = active;
    this.logger.info(
      { caseId: active.caseId, accepted: [...active.accepted.keys()], step: active.step },
      'open case restored',
    );
    this.events.emit('case-restored', {
      caseId: active.caseId,
      acceptedViews: [...active.accepted.keys()],
      notice: active.notice,
    });
    if (!active.estimate && missingViews(active).length === 0) await this.estimate(active);
  }

  private beginRecording(active: ActiveCase, view: ViewName, options: RecordingOptions): void {
    const durationS = options.durationS ?? this.options.settings.recordDurationS;
    const recorder = new ClipRecorder(this.options.source, {
      view,
      durationS,
      frameTimeoutS: this.options.settings.frameTimeoutS,
      pixelFormat: this.options.engine.manifest.views[view].input.pixelFormat,
      onProgress: ({ elapsedS, frameCount }) =>
        this.events.emit('recording-progress', {
          caseId: active.caseId,
          view,
          elapsedS,
          durationS,
          frameCount,
        }),
    });
    const attempt = this.finishRecording(active, view, recorder, options);
    // A discarded recording rejects its attempt. Only callers that wait for it see the rejection.
    attempt.catch(() => undefined);
    this.recording = { view, durationS, recorder, attempt };
    moveToStep(active, 'recording', view);
    active.notice = null;
    updateCase(this.options.store, active);
    recorder.start();
    this.logger.info({ caseId: active.caseId, view, durationS }, 'recording started');
    this.events.emit('recording-started', { caseId: active.caseId, view, durationS });
  }

  /** Waits for the recording to end, then checks it and puts the attempt under review. */
  private async finishRecording(
    active: ActiveCase,
    view: ViewName,
    recorder: ClipRecorder,
    options: RecordingOptions,
  ): Promise<ViewAttempt> {
    const outcome = await recorder.done.catch((error: unknown) => {
      if (error instanceof BvEdgeError && error.code !== 'recording_cancelled') return error;
      throw error;
    });
    return this.exclusive(async () => {
      // Retake, abandon and stop clear this.recording; a clip that ended meanwhile is dropped.
      if (this.recording?.recorder !== recorder) {
        throw new BvEdgeError('recording_cancelled', notice('notice.workflow.discarded', { view }));
      }
      this.recording = null;
      moveToStep(active, 'analysing', view);
      updateCase(this.options.store, active);
      this.announceRecordingEnd(active.caseId, view, outcome);
      const attempt = await buildAttempt(outcome, {
        view,
        options,
        source: this.options.source,
        engine: this.options.engine,
        thresholds: qualityThresholds(this.options.settings, this.options.engine.manifest, view),
        logger: this.logger.child({ caseId: active.caseId }),
      });
      active.pendingAttempt = attempt;
      moveToStep(active, 'review', view);
      updateCase(this.options.store, active);
      this.logger.info(
        { caseId: active.caseId, view: attempt.view, passed: attempt.quality.passed },
        'recording checked',
      );
      this.events.emit('quality-checked', { caseId: active.caseId, attempt });
      return attempt;
    });
  }

  private announceRecordingEnd(
    caseId: string,
    view: ViewName,
    outcome: RecordedClip | BvEdgeError,
  ): void {
    const clip = outcome instanceof BvEdgeError ? null : outcome.clip;
    this.events.emit('recording-finished', {
      caseId,
      view,
      frameCount: clip?.frames.length ?? 0,
      durationS: clip ? clip.frames.length / clip.fps : 0,
      endedBy: outcome instanceof BvEdgeError ? 'failure' : outcome.endedBy,
    });
  }

  private discardRecording(): void {
    const recording = this.recording!;
    this.recording = null;
    recording.recorder.cancel();
  }

  /** Computes the estimate from the accepted views; a fusion failure is kept as a notice. */
  private async estimate(active: ActiveCase): Promise<void> {
    try {
      active.estimate = await estimateCase(active, this.options.engine);
    } catch (error) {
      if (!(error instanceof BvEdgeError)) throw error;
      active.estimate = null;
      active.notice = notice('notice.workflow.estimateFailed', { reason: error.message });
      this.logger.error({ err: error, caseId: active.caseId }, 'estimate failed');
    }
    updateCase(this.options.store, active);
    if (!active.estimate) return;
    const { views, estimate } = active.estimate;
    this.logger.info(
      { caseId: active.caseId, bvMl: Math.round(estimate.bvMl), views },
      'estimate ready',
    );
    this.events.emit('estimate-ready', { caseId: active.caseId, ...active.estimate });
  }

  private checkCaseIdUnused(caseId: string): void {
    const { scanStored, workflowStatus } = findCaseId(this.options.store, caseId);
    if (!scanStored && (workflowStatus === null || workflowStatus === 'abandoned')) return;
    const status = scanStored ? 'stored' : (workflowStatus ?? 'stored');
    const exists = notice('notice.workflow.caseExists', { caseId, status });
    throw new BvEdgeError('case_exists', exists, { value: caseId });
  }

  private recordingProgress(): CaseSnapshot['recording'] {
    const recording = this.recording;
    if (!recording) return null;
    return {
      view: recording.view,
      elapsedS: recording.recorder.elapsedS,
      durationS: recording.durationS,
      frameCount: recording.recorder.frameCount,
    };
  }

  private requireRunning(action: WorkflowAction): void {
    if (!this.running) {
      throw new BvEdgeError('workflow_stopped', notice('notice.workflow.stopped', { action }));
    }
  }

  private requireCase(action: WorkflowAction): ActiveCase {
    this.requireRunning(action);
    if (!this.active) throw invalidTransition(notice('notice.workflow.noCase', { action }));
    return this.active;
  }

  private requireStep(step: WorkflowStep, action: WorkflowAction): ActiveCase {
    const active = this.requireCase(action);
    if (active.step !== step) {
      throw invalidTransition(notNowNotice(action, active.step, active.activeView));
    }
    if (step === 'review' && !active.pendingAttempt) {
      throw invalidTransition(notice('notice.workflow.noReview', { action }));
    }
    return active;
  }

  private notRecordingNotice(): Notice {
    const active = this.active;
    if (!active) return notice('notice.workflow.noCaseOpen');
    if (active.step === 'idle') return notice('notice.workflow.notRecording');
    return busyNotice(active.step, active.activeView);
  }

  private exclusive<T>(action: () => T | Promise<T>): Promise<T> {
    const result = this.queue.then(action);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

/**
 * Returns why a failed attempt cannot be accepted, naming its failed checks by their issue codes,
 * each once, so that the page can name them in its language.
 */
function acceptFailedNotice(attempt: ViewAttempt): Notice {
  const codes = [...new Set(attempt.quality.issues.map((issue) => issue.code))];
  const { count, params } = listParams('check', codes.length > 0 ? codes : ['analysis_failed']);
  return notice(`notice.workflow.acceptFailed.${count}`, { view: attempt.view, ...params });
}
