import { asc, eq } from 'drizzle-orm';

import type { StoreExecutor } from './db.ts';
import type { AuditAction } from './audit-actions.ts';
import { auditLog } from './schema.ts';

export type { AuditAction } from './audit-actions.ts';

/** One change as the audit log stores it. */
export interface AuditEntry {
  seq: number;
  /** Name or login of the person who made the change, as entered. */
  actor: string;
  /** ISO 8601 UTC time of the change. */
  at: string;
  action: AuditAction;
  /** The case the change belongs to; null for device-wide changes. */
  caseId: string | null;
  /** The row before the change; null for a creation. */
  before: unknown;
  after: unknown;
}

export type NewAuditEntry = Omit<AuditEntry, 'seq'>;

/** Appends an entry. Pass the transaction that makes the change, so both commit or neither. */
export function appendAudit(executor: StoreExecutor, entry: NewAuditEntry): void {
  executor
    .insert(auditLog)
    .values({ ...entry, before: entry.before ?? null })
    .run();
}

/** Returns the audit entries of a case, oldest first. */
export function listAudit(executor: StoreExecutor, caseId: string): AuditEntry[] {
  return executor
    .select()
    .from(auditLog)
    .where(eq(auditLog.caseId, caseId))
    .orderBy(asc(auditLog.seq))
    .all();
}
