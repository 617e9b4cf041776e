import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';

import type { StoreExecutor } from '../store/db.ts';
import { hl7Outbox } from '../store/schema.ts';

export type Hl7OutboxRow = typeof hl7Outbox.$inferSelect;
export type Hl7MessageStatus = Hl7OutboxRow['status'];

export interface NewHl7Message {
  controlId: string;
  caseId: string;
  estimateId: string;
  /** HL7 text with PID-3 empty. */
  message: string;
  createdAt: Date;
}

/** Inserts a pending message that may be sent at once, and returns its row. */
export function enqueueHl7(executor: StoreExecutor, message: NewHl7Message): Hl7OutboxRow {
  const createdAt = message.createdAt.toISOString();
  return executor
    .insert(hl7Outbox)
    .values({
      controlId: message.controlId,
      caseId: message.caseId,
      estimateId: message.estimateId,
      message: message.message,
      createdAt,
      nextAttemptAt: createdAt,
    })
    .returning()
    .get();
}

/** Returns the oldest pending message, which is sent before any later one; null when none. */
export function nextPendingHl7(executor: StoreExecutor): Hl7OutboxRow | null {
  return (
    executor
      .select()
      .from(hl7Outbox)
      .where(eq(hl7Outbox.status, 'pending'))
      .orderBy(asc(hl7Outbox.seq))
      .limit(1)
      .get() ?? null
  );
}

export function findHl7ByEstimate(
  executor: StoreExecutor,
  estimateId: string,
): Hl7OutboxRow | null {
  return (
    executor.select().from(hl7Outbox).where(eq(hl7Outbox.estimateId, estimateId)).get() ?? null
  );
}

export function countPendingHl7(executor: StoreExecutor, caseId?: string): number {
  const pending = eq(hl7Outbox.status, 'pending');
  const row = executor
    .select({ count: sql<number>`count(*)` })
    .from(hl7Outbox)
    .where(caseId === undefined ? pending : and(pending, eq(hl7Outbox.caseId, caseId)))
    .get();
  return row?.count ?? 0;
}

/** Returns the most recently acknowledged (delivered or rejected) message; null when none. */
export function lastAcknowledgedHl7(executor: StoreExecutor): Hl7OutboxRow | null {
  return (
    executor
      .select()
      .from(hl7Outbox)
      .where(inArray(hl7Outbox.status, ['delivered', 'rejected']))
      .orderBy(desc(hl7Outbox.ackedAt), desc(hl7Outbox.seq))
      .limit(1)
      .get() ?? null
  );
}

/**
 * Stores the acknowledgement of a pending message: `delivered` for AA, `rejected` with the error
 * text for AE and AR. Counts the attempt.
 */
export function recordHl7Ack(
  executor: StoreExecutor,
  seq: number,
  ack: { status: 'delivered' | 'rejected'; ackCode: string; error: string | null; at: Date },
): void {
  executor
    .update(hl7Outbox)
    .set({
      status: ack.status,
      ackCode: ack.ackCode,
      ackedAt: ack.at.toISOString(),
      lastError: ack.error,
      attempts: sql`${hl7Outbox.attempts} + 1`,
    })
    .where(eq(hl7Outbox.seq, seq))
    .run();
}

/** Counts a failed attempt, stores its error and sets the time of the next one. */
export function recordHl7Failure(
  executor: StoreExecutor,
  seq: number,
  error: string,
  nextAttemptAt: Date,
): void {
  executor
    .update(hl7Outbox)
    .set({
      attempts: sql`${hl7Outbox.attempts} + 1`,
      lastError: error,
      nextAttemptAt: nextAttemptAt.toISOString(),
    })
    .where(eq(hl7Outbox.seq, seq))
    .run();
}
