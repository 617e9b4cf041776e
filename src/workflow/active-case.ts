import { VIEW_NAMES, type ViewName } from '../core/image.ts';
import type { Notice } from '../core/notice.ts';
import { notice } from '../notices/index.ts';
import type { ScanRecord } from '../scan/types.ts';
import type { StoredCase } from './case-store.ts';
import type { CaseSnapshot, RecordingProgress, WorkflowStep } from './types.ts';

/** The open case in memory: what is stored, plus a notice that only this process shows. */
export interface ActiveCase extends StoredCase {
  notice: Notice | null;
}

/** Moves the case to `step`; only the review step keeps an attempt under review. */
export function moveToStep(active: ActiveCase, step: WorkflowStep, view: ViewName | null): void {
  active.step = step;
  active.activeView = view;
  if (step !== 'review') active.pendingAttempt = null;
}

export function missingViews(active: ActiveCase): ViewName[] {
  return active.requiredViews.filter((view) => !active.accepted.has(view));
}

/** Accepted view results in the order of VIEW_NAMES, as a ScanRecord lists them. */
export function acceptedResults(active: ActiveCase): ScanRecord['views'] {
  return VIEW_NAMES.filter((view) => active.accepted.has(view)).map((view) =>
    active.accepted.get(view)!,
  );
}

export function caseSnapshot(
  active: ActiveCase,
  recording: RecordingProgress | null,
): CaseSnapshot {
  const snapshot: CaseSnapshot = {
    caseId: active.caseId,
    status: 'open',
    step: active.step,
    openedAt: active.openedAt,
    covariates: active.covariates,
    requiredViews: active.requiredViews,
    missingViews: missingViews(active),
    activeView: active.activeView,
    recording,
    pendingAttempt: active.pendingAttempt,
    accepted: Object.fromEntries(active.accepted),
    estimate: active.estimate,
    notice: active.notice,
  };
  if (active.hbPreopGdl !== undefined) snapshot.hbPreopGdl = active.hbPreopGdl;
  return snapshot;
}

/** Builds the finished scan of a case whose estimate is ready, for saveScan and the outbox. */
export function scanRecordOf(active: ActiveCase): ScanRecord {
  const { estimateId, estimate } = active.estimate!;
  const record: ScanRecord = {
    caseId: active.caseId,
    estimateId,
    createdAt: new Date().toISOString(),
    covariates: active.covariates,
    views: acceptedResults(active),
    estimate,
  };
  if (active.hbPreopGdl !== undefined) record.hbPreopGdl = active.hbPreopGdl;
  return record;
}

/**
 * Rebuilds the active case from the store. Frames live in memory only, so a case stored while
 * recording or analysing comes back idle, with a notice that the view must be recorded again.
 */
export function restoredCase(stored: StoredCase): ActiveCase {
  const active: ActiveCase = { ...stored, notice: null };
  if (stored.step === 'recording' || stored.step === 'analysing') {
    active.notice = notice('notice.workflow.interrupted', { view: stored.activeView ?? '' });
    moveToStep(active, 'idle', null);
  }
  return active;
}
