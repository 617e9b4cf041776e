import { and, eq } from 'drizzle-orm';

import type { ViewName } from '../core/image.ts';
import { plainNotice, readNotice } from '../core/notice.ts';
import type { ScanRecord, SeriesSummary, ViewResult } from '../scan/types.ts';
import { saveScan, type Store, type StoreExecutor } from '../store/index.ts';
import type { OutboxMessage } from '../store/outbox.ts';
import { cases, workflowCases, workflowViews } from '../store/schema.ts';
import type { CaseEstimate, CaseStatus, ViewAttempt, WorkflowStep } from './types.ts';

/** The persisted part of an open case; recording progress and notices live in memory only. */
export interface StoredCase {
  caseId: string;
  openedAt: string;
  covariates: ScanRecord['covariates'];
  hbPreopGdl?: number;
  requiredViews: ViewName[];
  step: WorkflowStep;
  activeView: ViewName | null;
  pendingAttempt: ViewAttempt | null;
  accepted: Map<ViewName, ViewResult>;
  estimate: CaseEstimate | null;
}

/** Looks up where a case id is already used: a stored scan, or a workflow case and its status. */
export function findCaseId(
  store: Store,
  caseId: string,
): { scanStored: boolean; workflowStatus: CaseStatus | null } {
  const scan = store.db
    .select({ caseId: cases.caseId })
    .from(cases)
    .where(eq(cases.caseId, caseId))
    .get();
  const workflow = store.db
    .select({ status: workflowCases.status })
    .from(workflowCases)
    .where(eq(workflowCases.caseId, caseId))
    .get();
  return { scanStored: scan !== undefined, workflowStatus: workflow?.status ?? null };
}

/** Inserts a newly opened case, replacing an abandoned case of the same id. */
export function insertOpenCase(store: Store, stored: StoredCase): void {
  store.db.transaction(
    (tx) => {
      tx.delete(workflowCases)
        .where(and(eq(workflowCases.caseId, stored.caseId), eq(workflowCases.status, 'abandoned')))
        .run();
      tx.insert(workflowCases)
        .values({
          ...caseFields(stored),
          caseId: stored.caseId,
          status: 'open',
          covariates: stored.covariates,
          hbPreopGdl: stored.hbPreopGdl ?? null,
          requiredViews: stored.requiredViews,
          openedAt: stored.openedAt,
        })
        .run();
    },
    { behavior: 'immediate' },
  );
}

/** Stores the step, the attempt under review and the estimate of an open case. */
export function updateCase(store: Store, stored: StoredCase): void {
  store.db
    .update(workflowCases)
    .set(caseFields(stored))
    .where(eq(workflowCases.caseId, stored.caseId))
    .run();
}

/** Stores an accepted view together with the case state that follows from it. */
export function saveAcceptedView(
  store: Store,
  stored: StoredCase,
  attemptId: string,
  result: ViewResult,
): void {
  store.db.transaction(
    (tx) => {
      const row = {
        caseId: stored.caseId,
        view: result.view,
        attemptId,
        acceptedAt: new Date().toISOString(),
        result,
      };
      tx.insert(workflowViews)
        .values(row)
        .onConflictDoUpdate({ target: [workflowViews.caseId, workflowViews.view], set: row })
        .run();
      tx.update(workflowCases)
        .set(caseFields(stored))
        .where(eq(workflowCases.caseId, stored.caseId))
        .run();
    },
    { behavior: 'immediate' },
  );
}

/** Loads the open case with its accepted views, or null when no case is open. */
export function loadOpenCase(store: Store): StoredCase | null {
  const row = store.db.select().from(workflowCases).where(eq(workflowCases.status, 'open')).get();
  if (!row) return null;
  const viewRows = store.db
    .select()
    .from(workflowViews)
    .where(eq(workflowViews.caseId, row.caseId))
    .all();
  const stored: StoredCase = {
    caseId: row.caseId,
    openedAt: row.openedAt,
    covariates: row.covariates,
    requiredViews: row.requiredViews,
    step: row.step,
    activeView: row.activeView,
    pendingAttempt: row.pendingAttempt ? reviveAttempt(row.pendingAttempt) : null,
    accepted: new Map(viewRows.map((view) => [view.view, reviveViewResult(view.result)])),
    estimate: row.estimate,
  };
  if (row.hbPreopGdl !== null) stored.hbPreopGdl = row.hbPreopGdl;
  return stored;
}

/**
 * Stores the finished scan with its outbox messages and marks the workflow case closed, in one
 * transaction, so a crash leaves the case either open or stored, never both.
 */
export function storeClosedCase(
  store: Store,
  record: ScanRecord,
  outboxMessages: OutboxMessage[],
): void {
  store.db.transaction(
    (tx) => {
      // saveScan's own transaction becomes a savepoint inside this one.
      saveScan(store, record, outboxMessages);
      endCase(tx, record.caseId, 'closed');
    },
    { behavior: 'immediate' },
  );
}

export function storeAbandonedCase(store: Store, caseId: string): void {
  store.db.transaction((tx) => endCase(tx, caseId, 'abandoned'), { behavior: 'immediate' });
}

/** Marks the case ended; its accepted views are dropped, because a closed scan has its own. */
function endCase(tx: StoreExecutor, caseId: string, status: 'closed' | 'abandoned'): void {
  const now = new Date().toISOString();
  tx.update(workflowCases)
    .set({
      status,
      step: 'idle',
      activeView: null,
      pendingAttempt: null,
      updatedAt: now,
      endedAt: now,
    })
    .where(eq(workflowCases.caseId, caseId))
    .run();
  tx.delete(workflowViews).where(eq(workflowViews.caseId, caseId)).run();
}

function caseFields(stored: StoredCase) {
  return {
    step: stored.step,
    activeView: stored.activeView,
    pendingAttempt: stored.pendingAttempt,
    estimate: stored.estimate,
    updatedAt: new Date().toISOString(),
  };
}

/**
 * Restores a stored attempt. Quality issues stored before issues had notices get a plain notice
 * of their message.
 */
function reviveAttempt(attempt: ViewAttempt): ViewAttempt {
  const issues = attempt.quality.issues.map((issue) => ({
    ...issue,
    notice: readNotice(issue.notice) ?? plainNotice(issue.message),
  }));
  return {
    ...attempt,
    quality: { ...attempt.quality, issues },
    result: attempt.result ? reviveViewResult(attempt.result) : null,
  };
}

/** Restores the NaN values that JSON stored as null. */
function reviveViewResult(result: ViewResult): ViewResult {
  const m = result.measurements;
  const measurements = {
    ...m,
    areaMm2: reviveSummary(m.areaMm2),
    apDiameterMm: reviveSummary(m.apDiameterMm),
    lateralDiameterMm: reviveSummary(m.lateralDiameterMm),
  };
  for (const key of ['collapsibilityIndex', 'pulsatilityIndex', 'heartRateBpm'] as const) {
    if ((m[key] as number | null | undefined) === null) measurements[key] = Number.NaN;
  }
  return {
    ...result,
    measurements,
    areaSeriesMm2: result.areaSeriesMm2.map(nullToNaN),
    features: result.features.map(nullToNaN),
  };
}

function reviveSummary(summary: SeriesSummary): SeriesSummary {
  return {
    mean: nullToNaN(summary.mean),
    min: nullToNaN(summary.min),
    max: nullToNaN(summary.max),
  };
}

/** JSON has no NaN: the stored null of a number field reads back as NaN. */
function nullToNaN(value: number | null): number {
  return value === null ? Number.NaN : value;
}
