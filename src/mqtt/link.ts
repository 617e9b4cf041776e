/**
 * What the fleet agent, model delivery and HL7 status need from the daemon's one MQTT
 * connection. OutboxPublisher implements it; the outbox holds what must survive a restart, and
 * publishNow() sends what is only worth sending while connected (status, responses).
 */
export interface PublishNowOptions {
  /** Default 1. */
  qos?: 0 | 1;
  /** Default false. */
  retain?: boolean;
}

export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface MqttLink {
  /** Whether the client is connected to the broker now. */
  readonly connected: boolean;
  /** The topic base of this device, ending with "/", e.g. "bv-edge/v1/site-a/cart-1/". */
  readonly topicBase: string;
  /**
   * Publishes `payload` now, bypassing the outbox: objects are sent as JSON, strings as they
   * are. Resolves when the broker acknowledged it (QoS 1) or it was written (QoS 0). Rejects
   * with BvEdgeError MQTT_NOT_CONNECTED when offline, so callers decide whether to queue it.
   */
  publishNow(topic: string, payload: object | string, options?: PublishNowOptions): Promise<void>;
  /**
   * Subscribes to `filter` now when connected and again after every reconnect, and calls
   * `handler` for each message that matches it. Returns a function that unsubscribes.
   */
  subscribe(filter: string, handler: MessageHandler): () => void;
  /** Calls `listener` after every connect and reconnect. Returns a function that removes it. */
  onConnect(listener: () => void): () => void;
  /** Publishes newly queued outbox rows now rather than at the next poll. */
  wake(): void;
}
