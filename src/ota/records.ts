import { desc, eq } from 'drizzle-orm';

import { appendAudit, type AuditAction } from '../store/audit.ts';
import type { Store } from '../store/index.ts';
import { modelInstalls } from '../store/schema.ts';

export type InstallSource = (typeof modelInstalls.$inferSelect)['source'];
export type InstallRecord = typeof modelInstalls.$inferSelect;

/** Inserts an install attempt in state `installing` and returns its sequence number. */
export function recordInstallStart(
  store: Store,
  source: InstallSource,
  archiveSha256: string | null,
): number {
  const row = store.db
    .insert(modelInstalls)
    .values({ source, archiveSha256, state: 'installing', startedAt: new Date().toISOString() })
    .returning({ seq: modelInstalls.seq })
    .get();
  return row.seq;
}

export function recordInstallEnd(
  store: Store,
  seq: number,
  outcome:
    | { state: 'installed'; name: string; version: string; keyId: string; archiveSha256: string }
    | { state: 'rejected'; reasonCode: string; reason: string },
): void {
  store.db
    .update(modelInstalls)
    .set({ ...outcome, finishedAt: new Date().toISOString() })
    .where(eq(modelInstalls.seq, seq))
    .run();
}

/** Returns the latest install attempts, newest first. */
export function listInstalls(store: Store, limit = 20): InstallRecord[] {
  return store.db.select().from(modelInstalls).orderBy(desc(modelInstalls.seq)).limit(limit).all();
}

/**
 * Marks installs that a stopped process left in state `installing` as rejected, so the table
 * never shows an install as running that is not.
 */
export function closeInterruptedInstalls(store: Store): number {
  const result = store.db
    .update(modelInstalls)
    .set({
      state: 'rejected',
      reasonCode: 'install_interrupted',
      reason: 'The process stopped during the install; its partial files were removed.',
      finishedAt: new Date().toISOString(),
    })
    .where(eq(modelInstalls.state, 'installing'))
    .run();
  return result.changes;
}

/** Appends a device-wide audit entry. */
export function auditModel(
  store: Store,
  actor: string,
  action: AuditAction,
  before: unknown,
  after: unknown,
): void {
  appendAudit(store.db, {
    actor,
    at: new Date().toISOString(),
    action,
    caseId: null,
    before,
    after,
  });
}
