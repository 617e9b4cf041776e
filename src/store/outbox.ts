import { randomUUID } from 'node:crypto';

import { asc, eq, sql } from 'drizzle-orm';

import type { StoreExecutor } from './db.ts';
import { outbox } from './schema.ts';

export type QoS = 0 | 1 | 2;

/** A message to queue. `payload` is serialized with JSON.stringify. */
export interface OutboxMessage {
  topic: string;
  payload: object;
  /** Defaults to 1 (at least once). */
  qos?: QoS;
  /** Defaults to a fresh UUID. */
  messageId?: string;
}

/** A queued message as stored. */
export interface OutboxRow {
  seq: number;
  messageId: string;
  topic: string;
  /** JSON text. */
  payload: string;
  qos: QoS;
  createdAt: string;
  attempts: number;
  lastError: string | null;
}

export interface OutboxStats {
  /** Messages not yet acknowledged by the broker. */
  depth: number;
  /** Age of the oldest queued message in seconds, or null when the outbox is empty. */
  oldestAgeS: number | null;
}

/**
 * Inserts a message at the end of the outbox and returns its row. Pass a transaction as
 * `executor` to commit the message together with the rows it reports.
 */
export function enqueue(
  executor: StoreExecutor,
  message: OutboxMessage,
  now: Date = new Date(),
): OutboxRow {
  const row = executor
    .insert(outbox)
    .values({
      messageId: message.messageId ?? randomUUID(),
      topic: message.topic,
      payload: JSON.stringify(message.payload),
      qos: message.qos ?? 1,
      createdAt: now.toISOString(),
    })
    .returning()
    .get();
  return toOutboxRow(row);
}

/** Returns up to `limit` of the oldest messages in the order they were queued. */
export function peek(executor: StoreExecutor, limit: number): OutboxRow[] {
  const rows = executor.select().from(outbox).orderBy(asc(outbox.seq)).limit(limit).all();
  return rows.map(toOutboxRow);
}

/** Deletes a message the broker has acknowledged and returns false when `seq` was not queued. */
export function markSent(executor: StoreExecutor, seq: number): boolean {
  return executor.delete(outbox).where(eq(outbox.seq, seq)).run().changes > 0;
}

/** Counts a failed publish of `seq` and stores the error message in last_error. */
export function recordFailure(executor: StoreExecutor, seq: number, error: string): void {
  executor
    .update(outbox)
    .set({ attempts: sql`${outbox.attempts} + 1`, lastError: error })
    .where(eq(outbox.seq, seq))
    .run();
}

export function outboxStats(executor: StoreExecutor, now: Date = new Date()): OutboxStats {
  const row = executor
    .select({
      depth: sql<number>`count(*)`,
      oldestCreatedAt: sql<string | null>`min(${outbox.createdAt})`,
    })
    .from(outbox)
    .get();
  const depth = row?.depth ?? 0;
  const oldest = row?.oldestCreatedAt ?? null;
  if (depth === 0 || oldest === null) return { depth: 0, oldestAgeS: null };
  return { depth, oldestAgeS: Math.max(0, (now.getTime() - Date.parse(oldest)) / 1000) };
}

function toOutboxRow(row: typeof outbox.$inferSelect): OutboxRow {
  // The outbox_qos_valid CHECK constraint keeps qos within 0..2.
  return { ...row, qos: row.qos as QoS };
}
