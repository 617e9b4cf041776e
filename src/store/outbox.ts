import { randomUUID } from 'node:crypto';

import { and, asc, eq, gt, inArray, lt, sql } from 'drizzle-orm';

import type { StoreExecutor } from './db.ts';
import { outbox } from './schema.ts';

export type QoS = 0 | 1 | 2;

/**
 * Message classes of the outbox, which decide what is dropped when it is over its bounds.
 * Estimates and training records (with their labels) are never dropped. Telemetry and events
 * are dropped oldest first, telemetry before events, when the outbox is over maxRows or
 * maxBytes and when they are older than maxAgeS (see enforceLimits).
 */
export const MESSAGE_KINDS = ['estimate', 'training', 'event', 'telemetry'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** Kinds that bounds may drop, in the order they are dropped. */
export const DROPPABLE_KINDS: readonly MessageKind[] = ['telemetry', 'event'];

/** A message to queue. `payload` is serialized with JSON.stringify. */
export interface OutboxMessage {
  topic: string;
  payload: object;
  /** Defaults to 'estimate', a kind that is never dropped. */
  kind?: MessageKind;
  /** Defaults to 1 (at least once). */
  qos?: QoS;
  /** Defaults to a fresh UUID. */
  messageId?: string;
}

/** A queued message as stored. */
export interface OutboxRow {
  seq: number;
  messageId: string;
  kind: MessageKind;
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

/** Bounds of the outbox; see MESSAGE_KINDS for what is dropped when they are reached. */
export interface OutboxLimits {
  maxRows: number;
  /** Sum of the payload sizes, bytes of UTF-8. */
  maxBytes: number;
  /** Telemetry and events older than this are dropped, s. */
  maxAgeS: number;
}

/** Outbox figures for the status page, telemetry and the outbox-stats request. */
export interface OutboxUsage extends OutboxStats {
  /** Sum of the payload sizes, bytes of UTF-8. */
  bytes: number;
  byKind: Record<MessageKind, number>;
  /** Telemetry and events dropped by the bounds since the outbox was created. */
  dropped: number;
  /** Whether estimates and training records alone, which are never dropped, reach a bound. */
  full: boolean;
  limits: OutboxLimits;
}

/** Rows removed by enforceLimits, per kind. */
export type DroppedCounts = Partial<Record<MessageKind, number>>;

/**
 * Inserts a message at the end of the outbox and returns its row. Pass a transaction as
 * `executor` to commit the message together with the rows it reports. The outbox bounds are not
 * applied here; see enforceLimits.
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
      kind: message.kind ?? 'estimate',
      topic: message.topic,
      payload: JSON.stringify(message.payload),
      qos: message.qos ?? 1,
      createdAt: now.toISOString(),
    })
    .returning()
    .get();
  return toOutboxRow(row);
}

/**
 * Returns up to `limit` of the oldest messages in the order they were queued, starting after
 * sequence number `afterSeq` (0 starts at the head).
 */
export function peek(executor: StoreExecutor, limit: number, afterSeq = 0): OutboxRow[] {
  const rows = executor
    .select()
    .from(outbox)
    .where(gt(outbox.seq, afterSeq))
    .orderBy(asc(outbox.seq))
    .limit(limit)
    .all();
  return rows.map(toOutboxRow);
}

/** Deletes a message the broker has acknowledged and returns false when `seq` was not queued. */
export function markSent(executor: StoreExecutor, seq: number): boolean {
  return executor.delete(outbox).where(eq(outbox.seq, seq)).run().changes > 0;
}

/**
 * Deletes acknowledged messages in one statement, so one commit (one fsync with synchronous=FULL)
 * covers them all. Returns how many rows were deleted.
 */
export function markSentMany(executor: StoreExecutor, seqs: readonly number[]): number {
  if (seqs.length === 0) return 0;
  return executor
    .delete(outbox)
    .where(inArray(outbox.seq, [...seqs]))
    .run().changes;
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

/** Returns depth, size, age and the full flag of the outbox measured against `limits`. */
export function outboxUsage(
  executor: StoreExecutor,
  limits: OutboxLimits,
  now: Date = new Date(),
): OutboxUsage {
  const totals = readTotals(executor);
  const byKind = Object.fromEntries(MESSAGE_KINDS.map((kind) => [kind, 0])) as Record<
    MessageKind,
    number
  >;
  const counts = executor
    .select({ kind: outbox.kind, count: sql<number>`count(*)` })
    .from(outbox)
    .groupBy(outbox.kind)
    .all();
  for (const { kind, count } of counts) byKind[kind as MessageKind] = count;
  return {
    ...outboxStats(executor, now),
    bytes: totals.bytes,
    byKind,
    dropped: totals.dropped,
    full: isFull(totals, limits),
    limits,
  };
}

/**
 * Drops telemetry and events older than `limits.maxAgeS`, then drops them oldest first,
 * telemetry before events, until they fit in the room that estimates and training records leave
 * under maxRows and maxBytes. However full the outbox, the newest telemetry and events keep a
 * reserve of 1 % of each bound, so an "outbox-full" event still gets out. Estimates and training
 * records are never dropped. Returns what was dropped per kind.
 */
export function enforceLimits(
  executor: StoreExecutor,
  limits: OutboxLimits,
  now: Date = new Date(),
): DroppedCounts {
  const dropped: DroppedCounts = {};
  const count = (kind: MessageKind, n: number): void => {
    if (n > 0) dropped[kind] = (dropped[kind] ?? 0) + n;
  };
  const cutoff = new Date(now.getTime() - limits.maxAgeS * 1000).toISOString();
  for (const kind of DROPPABLE_KINDS) {
    const result = executor
      .delete(outbox)
      .where(and(eq(outbox.kind, kind), lt(outbox.createdAt, cutoff)))
      .run();
    count(kind, result.changes);
  }
  for (const kind of DROPPABLE_KINDS) {
    for (;;) {
      const excess = droppableExcess(readTotals(executor), limits);
      if (excess === 0) break;
      const n = dropOldest(executor, kind, Math.min(DROP_BATCH_MAX, excess));
      if (n === 0) break;
      count(kind, n);
    }
  }
  const total = Object.values(dropped).reduce((sum, n) => sum + n, 0);
  if (total > 0) {
    executor.run(sql`UPDATE outbox_totals SET dropped = dropped + ${total} WHERE id = 0`);
  }
  return dropped;
}

/** Most rows deleted by one statement, well under SQLite's limit of bound parameters. */
const DROP_BATCH_MAX = 10_000;

/** Counters that the triggers of migration 0004 keep up to date on every insert and delete. */
interface Totals {
  rows: number;
  bytes: number;
  droppableRows: number;
  droppableBytes: number;
  dropped: number;
}

function readTotals(executor: StoreExecutor): Totals {
  const row = executor.get<Totals>(
    sql`SELECT rows, bytes, droppable_rows AS droppableRows, droppable_bytes AS droppableBytes,
        dropped FROM outbox_totals WHERE id = 0`,
  );
  return row ?? { rows: 0, bytes: 0, droppableRows: 0, droppableBytes: 0, dropped: 0 };
}

/** Returns whether estimates and training records alone have reached maxRows or maxBytes. */
function isFull(totals: Totals, limits: OutboxLimits): boolean {
  return (
    totals.rows - totals.droppableRows >= limits.maxRows ||
    totals.bytes - totals.droppableBytes >= limits.maxBytes
  );
}

/**
 * Returns how many telemetry and event rows to drop: enough for both the row and the byte
 * budget, the bytes estimated from their mean size. 0 when they fit.
 */
function droppableExcess(totals: Totals, limits: OutboxLimits): number {
  const reserveRows = Math.max(1, Math.floor(limits.maxRows / 100));
  const reserveBytes = Math.max(1, Math.floor(limits.maxBytes / 100));
  const rowBudget = Math.max(reserveRows, limits.maxRows - (totals.rows - totals.droppableRows));
  const byteBudget = Math.max(
    reserveBytes,
    limits.maxBytes - (totals.bytes - totals.droppableBytes),
  );
  const overRows = Math.max(0, totals.droppableRows - rowBudget);
  const overBytes = Math.max(0, totals.droppableBytes - byteBudget);
  const meanBytes = totals.droppableBytes / Math.max(1, totals.droppableRows);
  const rowsForBytes = overBytes > 0 ? Math.max(1, Math.floor(overBytes / meanBytes)) : 0;
  return Math.max(overRows, rowsForBytes);
}

function dropOldest(executor: StoreExecutor, kind: MessageKind, limit: number): number {
  const oldest = executor
    .select({ seq: outbox.seq })
    .from(outbox)
    .where(eq(outbox.kind, kind))
    .orderBy(asc(outbox.createdAt), asc(outbox.seq))
    .limit(limit)
    .all()
    .map((row) => row.seq);
  if (oldest.length === 0) return 0;
  return executor.delete(outbox).where(inArray(outbox.seq, oldest)).run().changes;
}

function toOutboxRow(row: typeof outbox.$inferSelect): OutboxRow {
  // The outbox_qos_valid and outbox_kind_valid CHECK constraints keep both columns in range.
  return { ...row, qos: row.qos as QoS, kind: row.kind as MessageKind };
}
