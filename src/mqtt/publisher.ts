import { setTimeout as delay } from 'node:timers/promises';

import { BvEdgeError } from '../core/errors.ts';
import type { Store } from '../store/db.ts';
import {
  enforceLimits,
  enqueue,
  markSentMany,
  outboxStats,
  outboxUsage,
  peek,
  recordFailure,
  type OutboxLimits,
  type OutboxMessage,
  type OutboxRow,
  type OutboxUsage,
} from '../store/outbox.ts';
import { MqttConnection, redactPassword, type ConnectionOptions } from './connection.ts';
import type { MessageHandler, MqttLink, PublishNowOptions } from './link.ts';
import { EVENTS_TOPIC } from './topics.ts';

export { checkBrokerUrl, redactPassword } from './connection.ts';

export interface OutboxPublisherOptions extends ConnectionOptions {
  store: Store;
  /** The device's topic base ending with "/", for MqttLink.topicBase and the outbox-full event. */
  topicBase?: string;
  /** How often to look for messages queued without wake(), e.g. by another process, in ms. Default 2000. */
  pollIntervalMs?: number;
  /** Messages published but not yet acknowledged, at most. Default 8. */
  inflightWindow?: number;
  /** Outbox bounds; each one left out takes its default (DEFAULT_OUTBOX_LIMITS). */
  limits?: Partial<OutboxLimits>;
}

export interface DrainResult {
  /** Messages the broker acknowledged during this drain. */
  sent: number;
  /** Messages still queued when the drain returned. */
  pending: number;
  connected: boolean;
}

/** Outbox figures with the publisher's own counters, for status, telemetry and requests. */
export interface PublisherStats extends OutboxUsage {
  connected: boolean;
  /** Messages acknowledged since this publisher was constructed. */
  sent: number;
  /** Topics whose next message waits for a retry after a rejected publish. */
  backoffTopics: string[];
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  maxRows: 100_000,
  maxBytes: 256 * 1024 * 1024,
  maxAgeS: 7 * 24 * 3600,
};

const DEFAULT_POLL_INTERVAL_MS = 2000;
const DEFAULT_INFLIGHT_WINDOW = 8;
const PEEK_BATCH_SIZE = 64;
/**
 * Acknowledged rows deleted per commit. Each commit waits for an fsync, so deleting row by row
 * limits the drain to a few hundred messages/s. A crash resends at most this many acknowledged
 * messages, with their ids, on top of the in-flight window.
 */
const ACK_BATCH_SIZE = 64;
/** How often drain() checks the outbox depth, in ms. */
const DRAIN_CHECK_INTERVAL_MS = 25;
/** Retry pause after the first rejected publish of a topic, ms; it doubles per rejection. */
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

/** Result of one publish. 'rejected' means the broker or the client rejected that message. */
type Outcome = 'sent' | 'rejected' | 'offline';

interface TopicBackoff {
  failures: number;
  retryAt: number;
}

/**
 * Publishes the outbox to an MQTT broker in queue order, at most `inflightWindow` messages
 * unacknowledged at a time, and deletes each row only after the broker acknowledged it (PUBACK
 * for QoS 1). Delivery is at least once: a message in flight when the connection or the process
 * drops is sent again, with the same messageId in its payload, after the reconnect or restart.
 * It also implements MqttLink for messages that bypass the outbox.
 */
export class OutboxPublisher implements MqttLink {
  private readonly options: OutboxPublisherOptions;
  private readonly connection: MqttConnection;
  private readonly limits: OutboxLimits;
  private started = false;
  private stopped = false;
  private pumping = false;
  private pumpRequested = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private sentCount = 0;
  private full = false;
  private readonly backoff = new Map<string, TopicBackoff>();
  private acknowledged: number[] = [];

  constructor(options: OutboxPublisherOptions) {
    this.options = options;
    this.connection = new MqttConnection(options);
    this.limits = { ...DEFAULT_OUTBOX_LIMITS, ...options.limits };
    this.connection.onConnect(() => this.wake());
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  /** MQTT protocol version of the current or next connection: 5, or 4 after a fallback. */
  get protocolVersion(): 4 | 5 {
    return this.connection.protocol;
  }

  /** Messages acknowledged since construction. */
  get sent(): number {
    return this.sentCount;
  }

  get topicBase(): string {
    if (this.options.topicBase === undefined) {
      throw new Error('OutboxPublisher was constructed without the topicBase option');
    }
    return this.options.topicBase;
  }

  /** Whether the last bounds check found the outbox full of messages that are never dropped. */
  get outboxFull(): boolean {
    return this.full;
  }

  /**
   * Connects and starts publishing. Resolves once connected or after connectTimeoutMs. An
   * unreachable broker is logged, not thrown, and the client keeps reconnecting in the background.
   * Throws BvEdgeError INVALID_BROKER_URL for a malformed URL.
   */
  async start(): Promise<void> {
    this.startClient();
    const timeoutMs = this.options.connectTimeoutMs ?? 5000;
    if (!(await this.connection.waitForConnect(timeoutMs))) {
      this.options.logger.warn(
        this.logContext({ timeoutMs }),
        'MQTT broker not reachable yet; messages stay queued while the client keeps retrying',
      );
    }
  }

  /**
   * Publishes until the outbox is empty or `timeoutMs` has passed, starting the client if needed.
   * An unreachable broker is not an error: the result then has connected false and the messages
   * stay queued.
   */
  async drain({ timeoutMs }: { timeoutMs: number }): Promise<DrainResult> {
    const deadline = Date.now() + timeoutMs;
    const sentBefore = this.sentCount;
    this.startClient();
    this.wake();
    let pending = this.queueDepth();
    while (pending > 0 && Date.now() < deadline) {
      await delay(Math.min(DRAIN_CHECK_INTERVAL_MS, deadline - Date.now()));
      pending = this.queueDepth();
    }
    return { sent: this.sentCount - sentBefore, pending, connected: this.connected };
  }

  /** Publishes newly queued messages now rather than at the next poll. */
  wake(): void {
    void this.pump();
  }

  /**
   * Queues `message` in the outbox, applies the bounds (which may drop older telemetry and
   * events, or this message when it is telemetry or an event) and wakes the publisher. Returns
   * the stored row, or null when the bounds dropped it at once.
   */
  queue(message: OutboxMessage): OutboxRow | null {
    const { db } = this.options.store;
    const row = db.transaction((tx) => {
      const queued = enqueue(tx, message);
      this.logDropped(enforceLimits(tx, this.limits));
      return queued;
    });
    this.checkFull();
    const kept = peek(db, 1, row.seq - 1)[0]?.seq === row.seq;
    if (kept) this.wake();
    return kept ? row : null;
  }

  /** Returns the outbox figures and the full flag, after applying the bounds. */
  stats(): PublisherStats {
    this.checkBounds();
    const now = Date.now();
    return {
      ...outboxUsage(this.options.store.db, this.limits),
      connected: this.connected,
      sent: this.sentCount,
      backoffTopics: [...this.backoff].filter(([, b]) => b.retryAt > now).map(([topic]) => topic),
    };
  }

  publishNow(topic: string, payload: object | string, options: PublishNowOptions = {}) {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    return this.connection.publish(topic, text, {
      qos: options.qos ?? 1,
      retain: options.retain ?? false,
    });
  }

  subscribe(filter: string, handler: MessageHandler): () => void {
    return this.connection.subscribe(filter, handler);
  }

  onConnect(listener: () => void): () => void {
    return this.connection.onConnect(listener);
  }

  /**
   * Disconnects, sending DISCONNECT when connected and no message is in flight, so the broker
   * publishes the will only when the process dies. Queued messages stay in the outbox.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    await this.connection.stop();
    this.deleteAcknowledged();
    this.options.logger.info(
      this.logContext({ sent: this.sentCount, pending: this.queueDepth() }),
      'MQTT publisher stopped',
    );
  }

  private startClient(): void {
    if (this.started) return;
    this.connection.start();
    this.started = true;
    this.stopped = false;
    this.pollTimer = setInterval(() => {
      this.checkBounds();
      this.wake();
    }, this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.pollTimer.unref();
    this.checkBounds();
    this.options.logger.info(this.logContext({}), 'MQTT publisher connecting');
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpRequested = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpRequested = false;
        await this.publishQueued();
      } while (this.pumpRequested && this.canPublish());
    } catch (error) {
      this.options.logger.error(this.logContext({ err: error }), 'publishing the outbox failed');
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Publishes the outbox from its head with up to inflightWindow messages unacknowledged. A
   * topic whose message was rejected is skipped for the rest of the pass and until its backoff
   * ends, so its later messages keep their order and other topics go on. A lost connection ends
   * the pass. The next connect starts again from the head, so each unacknowledged message is sent
   * once more per connection and never per reconnect attempt.
   */
  private async publishQueued(): Promise<void> {
    const now = Date.now();
    const skipped = new Set(
      [...this.backoff].filter(([, b]) => b.retryAt > now).map(([topic]) => topic),
    );
    const window = new Set<Promise<void>>();
    const windowSize = Math.max(1, this.options.inflightWindow ?? DEFAULT_INFLIGHT_WINDOW);
    let offline = false;
    let afterSeq = 0;
    while (this.canPublish() && !offline) {
      const batch = peek(this.options.store.db, PEEK_BATCH_SIZE, afterSeq);
      if (batch.length === 0) break;
      for (const row of batch) {
        afterSeq = row.seq;
        while (window.size >= windowSize) await Promise.race(window);
        if (!this.canPublish() || offline) break;
        if (skipped.has(row.topic)) continue;
        const sending: Promise<void> = this.publishRow(row).then((outcome) => {
          window.delete(sending);
          if (outcome === 'rejected') skipped.add(row.topic);
          if (outcome === 'offline') offline = true;
        });
        window.add(sending);
      }
    }
    await Promise.all(window);
    this.deleteAcknowledged();
  }

  private deleteAcknowledged(): void {
    const seqs = this.acknowledged;
    this.acknowledged = [];
    markSentMany(this.options.store.db, seqs);
  }

  private async publishRow(row: OutboxRow): Promise<Outcome> {
    try {
      await this.connection.publish(row.topic, payloadWithMessageId(row), {
        qos: row.qos === 0 ? 0 : 1,
        retain: false,
        userProperties: { messageId: row.messageId },
      });
    } catch (error) {
      const code = error instanceof BvEdgeError ? error.code : null;
      if (code === 'MQTT_CONNECTION_LOST' || code === 'MQTT_NOT_CONNECTED') return 'offline';
      this.recordRejection(row, error as Error);
      return 'rejected';
    }
    this.acknowledged.push(row.seq);
    if (this.acknowledged.length >= ACK_BATCH_SIZE) this.deleteAcknowledged();
    this.sentCount += 1;
    this.backoff.delete(row.topic);
    this.options.logger.debug(
      this.logContext({ seq: row.seq, messageId: row.messageId, topic: row.topic }),
      'message acknowledged by MQTT broker',
    );
    return 'sent';
  }

  // NOTE: a message the broker rejects every time (an MQTT 5 PUBACK reason code such as "not
  // authorized") holds back the later messages of its topic, because their order is kept. It is
  // retried with a backoff of up to MAX_RETRY_MS, and its attempts and last_error grow in the
  // outbox table. Messages already in flight on the same topic may arrive before its retry.
  private recordRejection(row: OutboxRow, error: Error & { code?: unknown }): void {
    recordFailure(this.options.store.db, row.seq, error.message);
    const failures = (this.backoff.get(row.topic)?.failures ?? 0) + 1;
    const retryMs = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(failures - 1, 16));
    this.backoff.set(row.topic, { failures, retryAt: Date.now() + retryMs });
    this.options.logger.warn(
      this.logContext({
        error: error.message,
        reasonCode: error.code,
        seq: row.seq,
        messageId: row.messageId,
        topic: row.topic,
        attempts: row.attempts + 1,
        retryMs,
      }),
      'MQTT broker rejected a message; it stays queued and is retried',
    );
  }

  /** Drops what the bounds allow and updates the full flag. Never throws. */
  private checkBounds(): void {
    try {
      const { db } = this.options.store;
      this.logDropped(db.transaction((tx) => enforceLimits(tx, this.limits)));
      this.checkFull();
    } catch (error) {
      this.options.logger.error(this.logContext({ err: error }), 'outbox bounds check failed');
    }
  }

  private checkFull(): void {
    const usage = outboxUsage(this.options.store.db, this.limits);
    if (usage.full === this.full) return;
    this.full = usage.full;
    const fields = { depth: usage.depth, bytes: usage.bytes, limits: this.limits };
    if (usage.full) {
      this.options.logger.error(
        this.logContext(fields),
        'MQTT outbox is full of estimates and training records, which are never dropped; ' +
          'it grows past its bounds until the broker is reachable',
      );
    } else {
      this.options.logger.info(this.logContext(fields), 'MQTT outbox is within its bounds again');
    }
    this.queueFullEvent(usage);
  }

  /** Queues an "outbox-full" or "outbox-ok" event; it bypasses the bounds, as one row per change. */
  private queueFullEvent(usage: OutboxUsage): void {
    if (this.options.topicBase === undefined) return;
    enqueue(this.options.store.db, {
      topic: `${this.options.topicBase}${EVENTS_TOPIC}`,
      kind: 'event',
      payload: {
        type: usage.full ? 'outbox-full' : 'outbox-ok',
        at: new Date().toISOString(),
        data: {
          depth: usage.depth,
          bytes: usage.bytes,
          oldestAgeS: usage.oldestAgeS,
          maxRows: this.limits.maxRows,
          maxBytes: this.limits.maxBytes,
        },
      },
    });
    this.wake();
  }

  private logDropped(dropped: Partial<Record<string, number>>): void {
    if (Object.keys(dropped).length === 0) return;
    this.options.logger.warn(
      this.logContext({ dropped, limits: this.limits }),
      'MQTT outbox over its bounds; dropped the oldest telemetry and events',
    );
  }

  private canPublish(): boolean {
    return !this.stopped && this.connection.connected;
  }

  private queueDepth(): number {
    return outboxStats(this.options.store.db).depth;
  }

  private logContext(fields: Record<string, unknown>): Record<string, unknown> {
    return {
      broker: redactPassword(this.options.brokerUrl),
      clientId: this.options.clientId,
      ...fields,
    };
  }
}

/**
 * Returns the payload as published: a JSON object gets the row's messageId as its first member
 * unless it has one, so the server can drop duplicates. The result is the same on every resend.
 */
export function payloadWithMessageId(row: Pick<OutboxRow, 'payload' | 'messageId'>): string {
  const text = row.payload;
  if (!text.startsWith('{')) return text;
  const parsed = JSON.parse(text) as Record<string, unknown>;
  if ('messageId' in parsed) return text;
  const member = `"messageId":${JSON.stringify(row.messageId)}`;
  return text === '{}' ? `{${member}}` : `{${member},${text.slice(1)}`;
}
