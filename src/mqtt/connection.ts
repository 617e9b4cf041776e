import { connect, type IClientOptions, type MqttClient } from 'mqtt';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Secret } from '../config/secrets.ts';
import type { MessageHandler } from './link.ts';
import { topicMatches } from './topics.ts';

/** The last will that the broker publishes when the connection drops without DISCONNECT. */
export interface WillMessage {
  topic: string;
  /** Objects are sent as JSON, strings as they are. */
  payload: object | string;
  qos: 0 | 1;
  retain: boolean;
}

/** TLS material, as PEM text (not file names). */
export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: Secret;
  /** Default true. */
  rejectUnauthorized?: boolean;
}

export interface ConnectionOptions {
  /** Broker URL, e.g. "mqtts://broker:8883". Logs and errors show a password in it as ***. */
  brokerUrl: string;
  clientId: string;
  logger: Logger;
  username?: string;
  password?: Secret;
  tls?: TlsOptions;
  will?: WillMessage;
  /** How long to wait for the broker's CONNACK, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * 5 (MQTT 5.0, the default) falls back to 4 (MQTT 3.1.1) when the broker rejects the protocol
   * version. 4 connects with MQTT 3.1.1 only.
   */
  protocolVersion?: 4 | 5;
  /**
   * MQTT 5 session expiry interval, s. The broker keeps this client's subscriptions and queued
   * QoS 1 messages this long after a disconnect. Default 3600. MQTT 3.1.1 connects with a clean
   * session instead, because its sessions never expire.
   */
  sessionExpirySeconds?: number;
  /** First pause before reconnecting, in ms; it doubles per failed attempt. Default 1000. */
  reconnectPeriodMs?: number;
  /** Maximum pause between reconnect attempts, in ms. Default 60000. */
  maxReconnectPeriodMs?: number;
}

export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
  /** MQTT 5 user properties; dropped on an MQTT 3.1.1 connection. */
  userProperties?: Record<string, string>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_RECONNECT_PERIOD_MS = 1000;
const DEFAULT_MAX_RECONNECT_PERIOD_MS = 60_000;
const DEFAULT_SESSION_EXPIRY_S = 3600;
const BROKER_URL_SCHEMES = new Set(['mqtt:', 'mqtts:', 'tcp:', 'tls:', 'ssl:', 'ws:', 'wss:']);
/** CONNACK return codes that mean "protocol version not supported": 3.1.1 code 1, MQTT 5 0x84. */
const UNSUPPORTED_PROTOCOL_CODES = new Set([1, 132]);

/**
 * One MQTT connection that survives broker restarts and network loss. Each connect attempt uses
 * a fresh mqtt.js client with its own reconnect turned off, so this class decides when to retry
 * (exponential backoff with jitter) and a message is never queued inside mqtt.js while offline.
 * A publish that is in flight when the connection drops is rejected with MQTT_CONNECTION_LOST,
 * so its caller decides whether to send it again.
 */
export class MqttConnection {
  private readonly options: ConnectionOptions;
  private client: MqttClient | null = null;
  private stopped = true;
  private protocolVersion: 4 | 5;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private failedAttempts = 0;
  private retryImmediately = false;
  private errorCount = 0;
  private wasConnected = false;
  private readonly pending = new Map<MqttClient, Set<(error: Error) => void>>();
  private readonly subscriptions = new Map<string, Set<MessageHandler>>();
  private readonly connectListeners = new Set<() => void>();

  constructor(options: ConnectionOptions) {
    this.options = options;
    this.protocolVersion = options.protocolVersion ?? 5;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** The protocol version of the current or next connection: 5, or 4 after a fallback. */
  get protocol(): 4 | 5 {
    return this.protocolVersion;
  }

  /** Starts connecting. Throws BvEdgeError INVALID_BROKER_URL for a malformed URL. */
  start(): void {
    checkBrokerUrl(this.options.brokerUrl);
    if (!this.stopped) return;
    this.stopped = false;
    this.openClient();
  }

  /** Resolves true once connected, or false after `timeoutMs`. */
  waitForConnect(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        remove();
        resolve(false);
      }, timeoutMs);
      const remove = this.onConnect(() => {
        clearTimeout(timer);
        remove();
        resolve(true);
      });
    });
  }

  /**
   * Publishes now. Resolves on PUBACK (QoS 1) or once written (QoS 0). Rejects with BvEdgeError
   * MQTT_NOT_CONNECTED when offline, MQTT_CONNECTION_LOST when the connection drops first, and
   * with mqtt.js's ErrorWithReasonCode when an MQTT 5 broker rejects it in its PUBACK.
   */
  publish(topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> {
    const client = this.client;
    if (!client?.connected) return Promise.reject(notConnectedError(topic));
    const rejecters = this.pending.get(client) ?? new Set();
    this.pending.set(client, rejecters);
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => {
        rejecters.delete(fail);
        reject(error);
      };
      rejecters.add(fail);
      const properties =
        this.protocolVersion === 5 && options.userProperties
          ? { userProperties: options.userProperties }
          : undefined;
      client.publish(
        topic,
        payload,
        { qos: options.qos, retain: options.retain, ...(properties && { properties }) },
        (error) => {
          if (!rejecters.delete(fail)) return;
          // mqtt.js fails in-flight messages with "Connection closed" when it drops the socket.
          if (error && !client.connected) reject(connectionLostError());
          else if (error) reject(error);
          else resolve();
        },
      );
    });
  }

  /** Subscribes now when connected and again after every reconnect; returns an unsubscriber. */
  subscribe(filter: string, handler: MessageHandler): () => void {
    const handlers = this.subscriptions.get(filter) ?? new Set();
    const isNew = handlers.size === 0;
    handlers.add(handler);
    this.subscriptions.set(filter, handlers);
    if (isNew && this.client?.connected) this.subscribeOnBroker(this.client, filter);
    return () => {
      handlers.delete(handler);
      if (handlers.size > 0 || this.subscriptions.get(filter) !== handlers) return;
      this.subscriptions.delete(filter);
      if (this.client?.connected) this.client.unsubscribe(filter);
    };
  }

  /** Calls `listener` after every connect and reconnect; returns a function that removes it. */
  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /**
   * Disconnects. With `graceful`, sends DISCONNECT so the broker does not publish the will;
   * publishes still in flight are rejected with MQTT_CONNECTION_LOST either way.
   */
  async stop(graceful = true): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.client;
    this.client = null;
    if (!client) return;
    // mqtt.js waits for every PUBACK before a graceful end, and one may never come.
    const inFlight = (this.pending.get(client)?.size ?? 0) > 0;
    this.failPending(client);
    await client.endAsync(!graceful || inFlight || !client.connected);
  }

  private openClient(): void {
    const client = connect(this.options.brokerUrl, this.clientOptions());
    this.client = client;
    client.on('connect', () => this.handleConnect(client));
    client.on('message', (topic, payload) => this.dispatch(topic, payload));
    client.on('error', (error) => this.handleError(client, error));
    client.on('close', () => this.handleClose(client));
  }

  private clientOptions(): IClientOptions {
    const { options } = this;
    const v5 = this.protocolVersion === 5;
    const tls = options.tls;
    return {
      clientId: options.clientId,
      protocolVersion: this.protocolVersion,
      // MQTT 5 resumes the session (subscriptions and queued requests) within its expiry.
      clean: !v5,
      ...(v5 && {
        properties: {
          sessionExpiryInterval: options.sessionExpirySeconds ?? DEFAULT_SESSION_EXPIRY_S,
        },
      }),
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      reconnectPeriod: 0,
      resubscribe: false,
      ...(options.username !== undefined && { username: options.username }),
      ...(options.password && { password: options.password.reveal() }),
      ...(options.will && { will: willPacket(options.will) }),
      ...(tls?.ca !== undefined && { ca: tls.ca }),
      ...(tls?.cert !== undefined && { cert: tls.cert }),
      ...(tls?.key && { key: tls.key.reveal() }),
      rejectUnauthorized: tls?.rejectUnauthorized ?? true,
    };
  }

  private handleConnect(client: MqttClient): void {
    if (client !== this.client) return;
    const { logger } = this.options;
    logger.info(
      this.logContext({
        protocolVersion: this.protocolVersion,
        failedAttempts: this.failedAttempts,
      }),
      'connected to MQTT broker',
    );
    this.wasConnected = true;
    this.failedAttempts = 0;
    this.errorCount = 0;
    for (const filter of this.subscriptions.keys()) this.subscribeOnBroker(client, filter);
    for (const listener of [...this.connectListeners]) {
      try {
        listener();
      } catch (error) {
        logger.error(this.logContext({ err: error }), 'MQTT connect listener failed');
      }
    }
  }

  private subscribeOnBroker(client: MqttClient, filter: string): void {
    client.subscribe(filter, { qos: 1 }, (error, granted) => {
      const refused = granted?.find((grant) => grant.qos >= 128);
      if (error || refused) {
        this.options.logger.error(
          this.logContext({ filter, err: error, reasonCode: refused?.qos }),
          'MQTT subscribe failed; messages on this filter will not arrive until reconnect',
        );
      }
    });
  }

  private dispatch(topic: string, payload: Buffer): void {
    for (const [filter, handlers] of this.subscriptions) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of handlers) {
        try {
          handler(topic, payload);
        } catch (error) {
          this.options.logger.error(
            this.logContext({ err: error, topic, filter }),
            'MQTT message handler failed',
          );
        }
      }
    }
  }

  private handleError(client: MqttClient, error: Error & { code?: unknown }): void {
    if (client !== this.client) return;
    const { logger } = this.options;
    if (
      this.protocolVersion === 5 &&
      !client.connected &&
      typeof error.code === 'number' &&
      UNSUPPORTED_PROTOCOL_CODES.has(error.code)
    ) {
      this.protocolVersion = 4;
      this.retryImmediately = true;
      logger.warn(
        this.logContext({ reasonCode: error.code }),
        'MQTT broker rejected MQTT 5; falling back to MQTT 3.1.1 without session expiry',
      );
      return;
    }
    // A down broker fails every attempt the same way, so errors 1, 2, 4, 8, ... are logged.
    this.errorCount += 1;
    if (!isPowerOfTwo(this.errorCount)) return;
    logger.debug({ err: error }, 'MQTT client error detail');
    logger.warn(
      this.logContext({ error: error.message, code: error.code, errorCount: this.errorCount }),
      'MQTT client error',
    );
  }

  private handleClose(client: MqttClient): void {
    this.failPending(client);
    if (client !== this.client || this.stopped) return;
    if (this.wasConnected) {
      this.wasConnected = false;
      this.options.logger.warn(this.logContext({}), 'disconnected from MQTT broker');
    }
    this.client = null;
    // The old client has reconnect turned off; end it so that it releases its socket and timers.
    client.end(true);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.stopped) return;
    // After a protocol fallback the next attempt, with the other version, starts at once.
    const delayMs = this.retryImmediately ? 0 : this.nextReconnectDelayMs();
    if (!this.retryImmediately) this.failedAttempts += 1;
    this.retryImmediately = false;
    if (isPowerOfTwo(this.failedAttempts)) {
      this.options.logger.info(
        this.logContext({ attempt: this.failedAttempts, delayMs: Math.round(delayMs) }),
        'reconnecting to MQTT broker',
      );
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.openClient();
    }, delayMs);
    this.reconnectTimer.unref();
  }

  /**
   * Returns the pause before the next attempt: reconnectPeriodMs doubled per failed attempt up to
   * maxReconnectPeriodMs, times a random factor in [0.5, 1). The jitter spreads out a fleet of
   * carts that lost the same broker, so they do not all reconnect and resend at once.
   */
  private nextReconnectDelayMs(): number {
    const first = this.options.reconnectPeriodMs ?? DEFAULT_RECONNECT_PERIOD_MS;
    const max = this.options.maxReconnectPeriodMs ?? DEFAULT_MAX_RECONNECT_PERIOD_MS;
    const base = Math.min(max, first * 2 ** Math.min(this.failedAttempts, 30));
    return base * (0.5 + Math.random() * 0.5);
  }

  private failPending(client: MqttClient): void {
    const rejecters = this.pending.get(client);
    this.pending.delete(client);
    if (!rejecters) return;
    const error = connectionLostError();
    for (const reject of [...rejecters]) reject(error);
  }

  private logContext(fields: Record<string, unknown>): Record<string, unknown> {
    return {
      broker: redactPassword(this.options.brokerUrl),
      clientId: this.options.clientId,
      ...fields,
    };
  }
}

function willPacket(will: WillMessage): NonNullable<IClientOptions['will']> {
  const payload = typeof will.payload === 'string' ? will.payload : JSON.stringify(will.payload);
  return { topic: will.topic, payload: Buffer.from(payload), qos: will.qos, retain: will.retain };
}

function connectionLostError(): BvEdgeError {
  return new BvEdgeError(
    'MQTT_CONNECTION_LOST',
    'The MQTT connection closed before the broker acknowledged the message; send it again ' +
      'after the reconnect.',
  );
}

function notConnectedError(topic: string): BvEdgeError {
  return new BvEdgeError(
    'MQTT_NOT_CONNECTED',
    `Cannot publish to ${topic}: not connected to the MQTT broker. Queue the message in the ` +
      'outbox or retry after the connection is back.',
    { value: topic },
  );
}

/** Rejects URLs that mqtt.js 5 would misread, because it falls back to mqtt:// for unknown schemes. */
export function checkBrokerUrl(url: string): void {
  const parsed = URL.canParse(url) ? new URL(url) : null;
  if (parsed && BROKER_URL_SCHEMES.has(parsed.protocol) && parsed.hostname !== '') return;
  const redactedUrl = redactPassword(url);
  throw new BvEdgeError(
    'INVALID_BROKER_URL',
    `Invalid MQTT broker URL ${redactedUrl}: expected mqtt://HOST:PORT or mqtts://HOST:PORT ` +
      '(also tcp, tls, ssl, ws, wss).',
    { value: redactedUrl },
  );
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

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}
