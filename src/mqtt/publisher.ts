import { setTimeout as delay } from 'node:timers/promises';

import { connect, type MqttClient } from 'mqtt';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Store } from '../store/db.ts';
import { markSent, outboxStats, peek, recordFailure, type OutboxRow } from '../store/outbox.ts';

export interface OutboxPublisherOptions {
  store: Store;
  /** Broker URL, e.g. "mqtt://127.0.0.1:1883". Logs and errors show a password in it as ***. */
  brokerUrl: string;
  clientId: string;
  logger: Logger;
  /** How long to wait for the broker's CONNACK, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /** 4 is MQTT 3.1.1 (aedes supports only this), 5 is MQTT 5.0. Default 4. */
  protocolVersion?: 4 | 5;
  /** Pause between reconnect attempts, in ms. Default 2000. */
  reconnectPeriodMs?: number;
  /** How often to look for messages queued without wake(), e.g. by another process, in ms. Default 2000. */
  pollIntervalMs?: number;
}

export interface DrainResult {
  /** Messages the broker acknowledged during this drain. */
  sent: number;
  /** Messages still queued when the drain returned. */
  pending: number;
  connected: boolean;
}

/** Outcome of one publish: null when acknowledged, the error, or 'stopped' by stop(). */
type PublishOutcome = Error | null | 'stopped';

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_RECONNECT_PERIOD_MS = 2000;
const DEFAULT_POLL_INTERVAL_MS = 2000;
const PEEK_BATCH_SIZE = 32;
const BROKER_URL_SCHEMES = new Set(['mqtt:', 'mqtts:', 'tcp:', 'tls:', 'ws:', 'wss:']);
/** How often drain() checks the outbox depth, in ms. */
const DRAIN_CHECK_INTERVAL_MS = 25;

/**
 * Publishes the outbox to an MQTT broker in queue order, one message in flight at a time, and
 * deletes each row only after the broker acknowledged it (PUBACK for QoS 1). Delivery is at least
 * once, because a message in flight when the process stops is sent again on the next start.
 */
export class OutboxPublisher {
  private readonly options: OutboxPublisherOptions;
  private client: MqttClient | null = null;
  private stopped = false;
  private pumping = false;
  private pumpRequested = false;
  private cancelInFlight: (() => void) | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private sentCount = 0;
  private wasConnected = false;
  private reconnectAttempts = 0;
  private errorCount = 0;

  constructor(options: OutboxPublisherOptions) {
    this.options = options;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Messages acknowledged since construction. */
  get sent(): number {
    return this.sentCount;
  }

  /**
   * Connects and starts publishing. Resolves once connected or after connectTimeoutMs. An
   * unreachable broker is logged, not thrown, and the client keeps reconnecting in the background.
   * Throws BvEdgeError INVALID_BROKER_URL for a malformed URL.
   */
  async start(): Promise<void> {
    const client = this.startClient();
    const connected = await waitForConnect(client, this.connectTimeoutMs());
    if (!connected) {
      this.options.logger.warn(
        this.logContext({ timeoutMs: this.connectTimeoutMs() }),
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

  /** Disconnects, sending DISCONNECT when connected and no message is in flight. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    const inFlight = this.cancelInFlight !== null;
    this.cancelInFlight?.();
    this.cancelInFlight = null;
    // Without force, mqtt.js waits for the in-flight PUBACK, which may never come.
    await client.endAsync(inFlight || !client.connected);
    this.client = null;
    this.options.logger.info(
      this.logContext({ sent: this.sentCount, pending: this.queueDepth() }),
      'MQTT publisher stopped',
    );
  }

  private startClient(): MqttClient {
    if (this.client) return this.client;
    this.stopped = false;
    const client = this.createClient();
    this.client = client;
    this.watchConnection(client);
    this.pollTimer = setInterval(
      () => this.wake(),
      this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    );
    this.pollTimer.unref();
    this.options.logger.info(this.logContext({}), 'MQTT publisher connecting');
    return client;
  }

  private createClient(): MqttClient {
    checkBrokerUrl(this.options.brokerUrl);
    return connect(this.options.brokerUrl, {
      clientId: this.options.clientId,
      protocolVersion: this.options.protocolVersion ?? 4,
      clean: true,
      connectTimeout: this.connectTimeoutMs(),
      reconnectPeriod: this.options.reconnectPeriodMs ?? DEFAULT_RECONNECT_PERIOD_MS,
    });
  }

  private watchConnection(client: MqttClient): void {
    const { logger } = this.options;
    client.on('connect', () => {
      logger.info(
        this.logContext({ reconnectAttempts: this.reconnectAttempts, pending: this.queueDepth() }),
        'connected to MQTT broker',
      );
      this.wasConnected = true;
      this.reconnectAttempts = 0;
      this.errorCount = 0;
      this.wake();
    });
    client.on('close', () => {
      // 'close' also follows every failed connect attempt, so only a lost connection is logged.
      if (!this.wasConnected || this.stopped) return;
      this.wasConnected = false;
      logger.warn(
        this.logContext({ pending: this.queueDepth() }),
        'disconnected from MQTT broker; publishing paused until it reconnects',
      );
    });
    client.on('reconnect', () => {
      this.reconnectAttempts += 1;
      if (isPowerOfTwo(this.reconnectAttempts)) {
        logger.info(
          this.logContext({ attempt: this.reconnectAttempts }),
          'reconnecting to MQTT broker',
        );
      }
    });
    client.on('error', (error) => {
      // A down broker fails every reconnect the same way, so log attempts 1, 2, 4, 8, ...
      this.errorCount += 1;
      if (isPowerOfTwo(this.errorCount)) {
        // The message is enough for a refused or reset connection; the stack goes to debug.
        logger.debug({ err: error }, 'MQTT client error detail');
        logger.warn(
          this.logContext({ error: error.message, errorCount: this.errorCount }),
          'MQTT client error',
        );
      }
    });
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

  private async publishQueued(): Promise<void> {
    while (this.canPublish()) {
      const batch = peek(this.options.store.db, PEEK_BATCH_SIZE);
      if (batch.length === 0) return;
      for (const row of batch) {
        if (!this.canPublish()) return;
        if (!(await this.publishRow(row))) return;
      }
    }
  }

  /** Publishes one row and deletes it once acknowledged. Returns false when publishing should pause. */
  private async publishRow(row: OutboxRow): Promise<boolean> {
    const outcome = await this.publishAndWait(row);
    if (outcome === 'stopped') return false;
    if (outcome !== null) {
      this.recordPublishFailure(row, outcome);
      return false;
    }
    markSent(this.options.store.db, row.seq);
    this.sentCount += 1;
    this.options.logger.debug(
      this.logContext({ seq: row.seq, messageId: row.messageId, topic: row.topic }),
      'message acknowledged by MQTT broker',
    );
    return true;
  }

  private publishAndWait(row: OutboxRow): Promise<PublishOutcome> {
    const client = this.client;
    if (!client) return Promise.resolve('stopped');
    return new Promise((resolve) => {
      this.cancelInFlight = () => resolve('stopped');
      // mqtt.js 5 keeps an unacknowledged QoS 1 message across reconnects and sends it again with
      // DUP set, so the callback may come after a reconnect rather than with an error.
      client.publish(row.topic, row.payload, { qos: row.qos }, (error) => {
        this.cancelInFlight = null;
        resolve(error ?? null);
      });
    });
  }

  // NOTE: a message the broker rejects every time (an MQTT 5 PUBACK reason code such as "not
  // authorized") blocks the messages behind it, because queue order is kept. It is retried every
  // pollIntervalMs and its attempts and last_error grow in the outbox table.
  private recordPublishFailure(row: OutboxRow, error: Error): void {
    recordFailure(this.options.store.db, row.seq, error.message);
    this.options.logger.warn(
      this.logContext({
        err: error,
        seq: row.seq,
        messageId: row.messageId,
        topic: row.topic,
        attempts: row.attempts + 1,
      }),
      'publish failed; the message stays queued and is retried',
    );
  }

  private canPublish(): boolean {
    return !this.stopped && this.client?.connected === true;
  }

  private queueDepth(): number {
    return outboxStats(this.options.store.db).depth;
  }

  private connectTimeoutMs(): number {
    return this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  }

  private logContext(fields: Record<string, unknown>): Record<string, unknown> {
    return {
      broker: redactPassword(this.options.brokerUrl),
      clientId: this.options.clientId,
      ...fields,
    };
  }
}

function waitForConnect(client: MqttClient, timeoutMs: number): Promise<boolean> {
  if (client.connected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onConnect = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      client.off('connect', onConnect);
      resolve(false);
    }, timeoutMs);
    client.once('connect', onConnect);
  });
}

/** Rejects URLs that mqtt.js 5 would misread, because it falls back to mqtt:// for unknown schemes. */
export function checkBrokerUrl(url: string): void {
  const parsed = URL.canParse(url) ? new URL(url) : null;
  if (parsed && BROKER_URL_SCHEMES.has(parsed.protocol) && parsed.hostname !== '') return;
  const redactedUrl = redactPassword(url);
  throw new BvEdgeError(
    'INVALID_BROKER_URL',
    `Invalid MQTT broker URL ${redactedUrl}: expected mqtt://HOST:PORT or mqtts://HOST:PORT ` +
      '(also tcp, tls, ws, wss).',
    { value: redactedUrl },
  );
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Returns the URL with its password replaced by ***, for messages and logs. */
export function redactPassword(url: string): string {
  // An unparseable URL is shown as typed unless it may carry credentials.
  if (!URL.canParse(url)) return url.includes('@') ? '<unparseable URL>' : JSON.stringify(url);
  const parsed = new URL(url);
  if (parsed.password === '') return url;
  parsed.password = '***';
  return parsed.toString();
}
