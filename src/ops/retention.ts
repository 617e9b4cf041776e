import type { Logger } from '../core/log.ts';
import { appendAudit } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import type { RetentionReport } from './events.ts';

const MS_PER_DAY = 86_400_000;

/**
 * Removes scanned cases created more than `days` days before `now`, and abandoned workflow cases
 * that ended before then. A scanned case goes with its views, estimates, ANH labels, audit
 * entries and closed workflow row. Cases that a queued outbox message names are kept until the
 * broker has it, so nothing leaves the cart unsent. A case that another table still references
 * is kept and logged. The removal is audit-logged as `storage.retention` with the case ids,
 * which are pseudonymous. No clips are stored on the cart (recordings stay in memory), so there
 * are none to remove.
 */
export function applyRetention(
  store: Store,
  options: { days: number; now: Date; logger: Logger },
): RetentionReport {
  const cutoff = new Date(options.now.getTime() - options.days * MS_PER_DAY).toISOString();
  const queued = queuedCaseIds(store);
  const report: RetentionReport = {
    removedCaseIds: [],
    removedAbandoned: 0,
    keptQueued: [],
    keptReferenced: [],
    cutoff,
  };
  for (const caseId of dueCaseIds(store, cutoff)) {
    if (queued.has(caseId)) {
      report.keptQueued.push(caseId);
    } else if (removeCase(store, caseId, options.logger)) {
      report.removedCaseIds.push(caseId);
    } else {
      report.keptReferenced.push(caseId);
    }
  }
  report.removedAbandoned = removeAbandoned(store, cutoff);
  if (report.removedCaseIds.length > 0 || report.removedAbandoned > 0) {
    appendAudit(store.db, {
      actor: 'bv-edge',
      at: options.now.toISOString(),
      action: 'storage.retention',
      caseId: null,
      before: null,
      after: { days: options.days, ...report },
    });
  }
  return report;
}

/** Ids of scanned cases created before `cutoff`, oldest first. */
function dueCaseIds(store: Store, cutoff: string): string[] {
  // julianday() compares the times as instants, so offsets other than Z sort correctly too.
  const rows = store.sqlite
    .prepare(
      'SELECT case_id AS caseId FROM cases WHERE julianday(created_at) < julianday(?) ' +
        'ORDER BY julianday(created_at)',
    )
    .all(cutoff) as { caseId: string }[];
  return rows.map((row) => row.caseId);
}

/** Case ids named by a queued outbox message (estimate and training messages carry `caseId`). */
function queuedCaseIds(store: Store): Set<string> {
  const rows = store.sqlite
    .prepare(
      "SELECT DISTINCT json_extract(payload, '$.caseId') AS caseId FROM outbox " +
        'WHERE json_valid(payload)',
    )
    .all() as { caseId: unknown }[];
  return new Set(rows.flatMap((row) => (typeof row.caseId === 'string' ? [row.caseId] : [])));
}

/** Deletes one case in a transaction; returns false when a foreign key still needs it. */
function removeCase(store: Store, caseId: string, logger: Logger): boolean {
  const remove = store.sqlite.transaction(() => {
    for (const table of ['anh_labels', 'audit_log', 'workflow_cases', 'cases']) {
      store.sqlite.prepare(`DELETE FROM ${table} WHERE case_id = ?`).run(caseId);
    }
  });
  try {
    remove();
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
    logger.warn(
      { err: error, caseId },
      'retention kept a case that another table still references',
    );
    return false;
  }
}

function removeAbandoned(store: Store, cutoff: string): number {
  return store.sqlite
    .prepare(
      "DELETE FROM workflow_cases WHERE status = 'abandoned' AND ended_at IS NOT NULL " +
        'AND julianday(ended_at) < julianday(?)',
    )
    .run(cutoff).changes;
}
