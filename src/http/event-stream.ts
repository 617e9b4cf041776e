import { randomUUID } from 'node:crypto';

import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';

/** Reconnection delay sent to the browser's EventSource in the `retry:` field, ms. */
export const SSE_RETRY_MS = 1000;

/** Events kept for clients that reconnect with Last-Event-ID. About a minute of recording. */
const REPLAY_LIMIT = 500;

/** Interval of the status event, which also keeps idle connections open through proxies, ms. */
export const STATUS_INTERVAL_MS = 1000;

interface StoredEvent {
  id: string;
  seq: number;
  event: string;
  data: string;
}

type Subscriber = (event: StoredEvent) => void;

/**
 * Numbers the page's live events and keeps the last ones for replay. Event ids are
 * "<boot id>-<sequence>", so a client that reconnects after a restart presents an id of an
 * earlier boot. Such a client then re-reads the whole state instead of receiving a partial replay.
 */
export class EventHub {
  readonly bootId = randomUUID().slice(0, 8);
  private seq = 0;
  private readonly recent: StoredEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();

  publish(event: string, payload: unknown): void {
    this.seq += 1;
    const stored = {
      id: `${this.bootId}-${this.seq}`,
      seq: this.seq,
      event,
      data: JSON.stringify(payload),
    };
    this.recent.push(stored);
    if (this.recent.length > REPLAY_LIMIT) this.recent.shift();
    for (const subscriber of this.subscribers) subscriber(stored);
  }

  /**
   * Returns the events after `lastEventId`, or null when they cannot all be replayed: the id is
   * from another boot, malformed, or older than the kept events.
   */
  since(lastEventId: string | undefined): StoredEvent[] | null {
    if (lastEventId === undefined) return [];
    const match = /^([0-9a-f]{8})-(\d+)$/.exec(lastEventId);
    if (!match || match[1] !== this.bootId) return null;
    const seq = Number(match[2]);
    const oldest = this.recent[0]?.seq ?? this.seq + 1;
    if (seq > this.seq || seq < oldest - 1) return null;
    return this.recent.filter((event) => event.seq > seq);
  }

  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.add(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
    };
  }
}

/**
 * Streams the hub's events to one client as server-sent events. The stream opens with a `hello`
 * event whose `resumed` flag is true when the missed events follow as a replay, and false when
 * the client must re-read the state. A `status` event follows every second until the client
 * disconnects.
 */
export function streamEvents(
  c: Context,
  hub: EventHub,
  readStatus: () => unknown,
): Response | Promise<Response> {
  const lastEventId = c.req.header('last-event-id');
  return streamSSE(c, async (stream) => {
    const missed = hub.since(lastEventId);
    const queue: StoredEvent[] = [];
    let wake: (() => void) | null = null;
    const unsubscribe = hub.subscribe((event) => {
      queue.push(event);
      wake?.();
    });
    stream.onAbort(() => {
      unsubscribe();
      wake?.();
    });
    const hello = { bootId: hub.bootId, resumed: lastEventId !== undefined && missed !== null };
    await stream.writeSSE({ event: 'hello', data: JSON.stringify(hello), retry: SSE_RETRY_MS });
    for (const event of missed ?? []) await writeEvent(stream, event);
    let nextStatus = 0;
    while (!stream.aborted && !stream.closed) {
      if (Date.now() >= nextStatus) {
        await stream.writeSSE({ event: 'status', data: JSON.stringify(readStatus()) });
        nextStatus = Date.now() + STATUS_INTERVAL_MS;
      }
      for (let event = queue.shift(); event; event = queue.shift()) await writeEvent(stream, event);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(0, nextStatus - Date.now()));
      });
      wake = null;
    }
    unsubscribe();
  });
}

async function writeEvent(stream: SSEStreamingApi, event: StoredEvent): Promise<void> {
  await stream.writeSSE({ id: event.id, event: event.event, data: event.data });
}
