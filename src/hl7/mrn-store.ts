import { and, asc, eq, isNotNull, lte } from 'drizzle-orm';

import { appendAudit } from '../store/audit.ts';
import type { StoreExecutor } from '../store/db.ts';
import { hl7Mrns } from '../store/schema.ts';

/** Reason for deleting an MRN, as the audit entry records it. */
export type MrnDeleteReason = 'retention-elapsed' | 'case-abandoned' | 'not-pushed';

/** Actor of the audit entries that the daemon writes by itself. */
const DAEMON_ACTOR = 'bv-edge';

/**
 * Stores (or replaces) the MRN of a case. `deleteAfter` is the time after which it is deleted
 * even if the case is never pushed.
 */
export function putMrn(
  executor: StoreExecutor,
  caseId: string,
  mrn: string,
  enteredAt: Date,
  deleteAfter: Date,
): void {
  const values = {
    mrn,
    enteredAt: enteredAt.toISOString(),
    deleteAfter: deleteAfter.toISOString(),
  };
  executor
    .insert(hl7Mrns)
    .values({ caseId, ...values })
    .onConflictDoUpdate({ target: hl7Mrns.caseId, set: values })
    .run();
}

export function getMrn(executor: StoreExecutor, caseId: string): string | null {
  const row = executor
    .select({ mrn: hl7Mrns.mrn })
    .from(hl7Mrns)
    .where(eq(hl7Mrns.caseId, caseId))
    .get();
  return row?.mrn ?? null;
}

/** Sets when the MRN of a case is deleted; null keeps it until a later call sets a time. */
export function setMrnDeleteAfter(
  executor: StoreExecutor,
  caseId: string,
  deleteAfter: Date | null,
): void {
  executor
    .update(hl7Mrns)
    .set({ deleteAfter: deleteAfter?.toISOString() ?? null })
    .where(eq(hl7Mrns.caseId, caseId))
    .run();
}

/**
 * Deletes the MRN of a case and appends an `hl7.mrn-delete` audit entry in the same transaction.
 * The entry names the case and the reason, never the MRN. Returns false when none was stored.
 */
export function deleteMrn(
  executor: StoreExecutor,
  caseId: string,
  reason: MrnDeleteReason,
  now: Date,
): boolean {
  return executor.transaction((tx) => {
    const deleted = tx.delete(hl7Mrns).where(eq(hl7Mrns.caseId, caseId)).run().changes > 0;
    if (!deleted) return false;
    // caseId stays null because an abandoned case has no row in `cases` for the foreign key.
    appendAudit(tx, {
      actor: DAEMON_ACTOR,
      at: now.toISOString(),
      action: 'hl7.mrn-delete',
      caseId: null,
      before: { caseId, mrnStored: true },
      after: { caseId, mrnStored: false, reason },
    });
    return true;
  });
}

/** Returns the case ids whose MRN is due for deletion at `now`. */
export function expiredMrnCases(executor: StoreExecutor, now: Date): string[] {
  return executor
    .select({ caseId: hl7Mrns.caseId })
    .from(hl7Mrns)
    .where(and(isNotNull(hl7Mrns.deleteAfter), lte(hl7Mrns.deleteAfter, now.toISOString())))
    .all()
    .map((row) => row.caseId);
}

/** Returns the earliest deletion time of a stored MRN; null when none has one. */
export function nextMrnDeletion(executor: StoreExecutor): Date | null {
  const row = executor
    .select({ deleteAfter: hl7Mrns.deleteAfter })
    .from(hl7Mrns)
    .where(isNotNull(hl7Mrns.deleteAfter))
    .orderBy(asc(hl7Mrns.deleteAfter))
    .limit(1)
    .get();
  return row?.deleteAfter ? new Date(row.deleteAfter) : null;
}
