import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';

import { BvEdgeError } from '../src/core/errors.ts';
import { silentLogger } from '../src/core/log.ts';
import { startEmbeddedBroker } from '../src/mqtt/broker.ts';
import {
  OutboxPublisher,
  payloadWithMessageId,
  type OutboxPublisherOptions,
} from '../src/mqtt/publisher.ts';
import { topicMatches } from '../src/mqtt/topics.ts';
import { openDatabase, type Store } from '../src/store/db.ts';
import { enqueue, outboxUsage, peek, type MessageKind } from '../src/store/outbox.ts';
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from './helpers/mosquitto.ts';

const logger = silentLogger();
const BASE = 'bv-edge/v1/test-site/cart-1/';
const ESTIMATES = `${BASE}estimates`;
const TELEMETRY = `${BASE}telemetry`;
const EVENTS = `${BASE}events`;
let tempDir = '';

before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'bv-edge-mqtt-outbox-'));
});

after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

function storePath(): string {
  return join(tempDir, randomUUID(), 'bv-edge.sqlite');
}

function newPublisher(
  store: Store,
  brokerUrl: string,
  options: Partial<OutboxPublisherOptions> = {},
): OutboxPublisher {
  return new OutboxPublisher({
    store,
    brokerUrl,
    clientId: `bv-edge-test-${randomUUID().slice(0, 8)}`,
    logger,
    topicBase: BASE,
    connectTimeoutMs: 2000,
    reconnectPeriodMs: 100,
    maxReconnectPeriodMs: 400,
    pollIntervalMs: 200,
    ...options,
  });
}

/** Queues `count` estimate messages and returns their estimate ids in queue order. */
function queueEstimates(store: Store, count: number): string[] {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    const estimateId = randomUUID();
    enqueue(store.db, {
      topic: ESTIMATES,
      kind: 'estimate',
      payload: { estimateId, revision: 1, n },
    });
    ids.push(estimateId);
  }
  return ids;
}

interface Received {
  topic: string;
  body: Record<string, unknown>;
}

interface Subscriber {
  client: MqttClient;
  received: Received[];
  /** Estimate ids in arrival order, duplicates included. */
  estimateIds(): string[];
  close(): Promise<void>;
}

/**
 * Subscribes with an MQTT 5 persistent session (clean start off, one hour expiry), so a broker
 * with persistence queues messages for it while it reconnects after a broker restart.
 */
async function subscribe(url: string, filter = `${BASE}#`): Promise<Subscriber> {
  const client = await connectAsync(url, {
    protocolVersion: 5,
    clientId: `bv-edge-sub-${randomUUID().slice(0, 8)}`,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    reconnectPeriod: 100,
  });
  const received: Received[] = [];
  client.on('message', (topic, payload) => {
    received.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> });
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return {
    client,
    received,
    estimateIds: () =>
      received.filter((m) => m.topic === ESTIMATES).map((m) => String(m.body.estimateId)),
    close: () => client.endAsync(true),
  };
}

/** First arrival of each id, in arrival order. */
function firstArrivals(ids: string[]): string[] {
  return [...new Set(ids)];
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(20);
  }
}

describe('payloadWithMessageId', () => {
  test('adds id as first member', () => {
    const row = { messageId: 'm-1', payload: '{"estimateId":"e-1","revision":2}' };
    assert.equal(payloadWithMessageId(row), '{"messageId":"m-1","estimateId":"e-1","revision":2}');
    assert.equal(payloadWithMessageId(row), payloadWithMessageId(row));
  });

  test('handles empty and existing ids', () => {
    assert.equal(payloadWithMessageId({ messageId: 'm', payload: '{}' }), '{"messageId":"m"}');
    const own = '{"messageId":"kept","n":1}';
    assert.equal(payloadWithMessageId({ messageId: 'other', payload: own }), own);
    assert.equal(payloadWithMessageId({ messageId: 'm', payload: '[1,2]' }), '[1,2]');
  });
});

describe('topicMatches', () => {
  test('applies MQTT wildcards', () => {
    const cases: [string, string, boolean][] = [
      ['a/b/c', 'a/b/c', true],
      ['a/+/c', 'a/b/c', true],
      ['a/+', 'a/b/c', false],
      ['a/#', 'a', true],
      ['a/#', 'a/b/c', true],
      ['#', '$SYS/uptime', false],
      ['bv-edge/v1/s/cart-1/request/+', 'bv-edge/v1/s/cart-1/request/ping', true],
      ['bv-edge/v1/s/cart-1/request/+', 'bv-edge/v1/s/cart-2/request/ping', false],
      ['a/b', 'a/b/c', false],
    ];
    for (const [filter, topic, expected] of cases) {
      assert.equal(topicMatches(filter, topic), expected, `${filter} against ${topic}`);
    }
  });
});

describe('outbox bounds', () => {
  function queueKind(publisher: OutboxPublisher, kind: MessageKind, n: number) {
    const topics: Record<MessageKind, string> = {
      estimate: ESTIMATES,
      training: `${BASE}training`,
      event: EVENTS,
      telemetry: TELEMETRY,
    };
    return publisher.queue({ topic: topics[kind], kind, payload: { kind, n } });
  }

  function queuedBodies(store: Store): { kind: string; n: number; type?: string }[] {
    return peek(store.db, 1000).map((row) => JSON.parse(row.payload));
  }

  test('drops telemetry oldest first', () => {
    const store = openDatabase(storePath(), logger);
    const publisher = newPublisher(store, 'mqtt://127.0.0.1:1', {
      limits: { maxRows: 6, maxBytes: 1e9, maxAgeS: 3600 },
    });
    try {
      for (let n = 0; n < 3; n++) queueKind(publisher, 'estimate', n);
      for (let n = 0; n < 5; n++) queueKind(publisher, 'telemetry', n);
      const bodies = queuedBodies(store);
      assert.deepEqual(
        bodies.filter((b) => b.kind === 'estimate').map((b) => b.n),
        [0, 1, 2],
      );
      assert.deepEqual(
        bodies.filter((b) => b.kind === 'telemetry').map((b) => b.n),
        [2, 3, 4],
      );
      const stats = publisher.stats();
      assert.equal(stats.depth, 6);
      assert.equal(stats.dropped, 2);
      assert.equal(stats.full, false);
      assert.equal(publisher.outboxFull, false);
    } finally {
      store.close();
    }
  });

  test('drops events after telemetry', () => {
    const store = openDatabase(storePath(), logger);
    const publisher = newPublisher(store, 'mqtt://127.0.0.1:1', {
      limits: { maxRows: 4, maxBytes: 1e9, maxAgeS: 3600 },
    });
    try {
      queueKind(publisher, 'event', 0);
      queueKind(publisher, 'telemetry', 0);
      queueKind(publisher, 'event', 1);
      queueKind(publisher, 'estimate', 0);
      queueKind(publisher, 'event', 2);
      assert.deepEqual(
        queuedBodies(store).map((b) => `${b.kind}${b.n}`),
        ['event0', 'event1', 'estimate0', 'event2'],
        'telemetry went first',
      );
      const kept = queueKind(publisher, 'event', 3);
      assert.ok(kept, 'the newest event was kept');
      assert.deepEqual(
        queuedBodies(store).map((b) => `${b.kind}${b.n}`),
        ['event1', 'estimate0', 'event2', 'event3'],
      );
    } finally {
      store.close();
    }
  });

  test('never drops estimates; flags full', () => {
    const store = openDatabase(storePath(), logger);
    const publisher = newPublisher(store, 'mqtt://127.0.0.1:1', {
      limits: { maxRows: 3, maxBytes: 1e9, maxAgeS: 3600 },
    });
    try {
      for (let n = 0; n < 5; n++) queueKind(publisher, 'estimate', n);
      const dropped = queueKind(publisher, 'telemetry', 0);
      assert.equal(dropped, null);
      const bodies = queuedBodies(store);
      assert.deepEqual(
        bodies.filter((b) => b.kind === 'estimate').map((b) => b.n),
        [0, 1, 2, 3, 4],
      );
      assert.equal(publisher.outboxFull, true);
      const fullEvents = bodies.filter((b) => b.type === 'outbox-full');
      assert.equal(fullEvents.length, 1, 'one outbox-full event per change');
      const stats = publisher.stats();
      assert.equal(stats.full, true);
      assert.equal(stats.byKind.estimate, 5);
      assert.equal(stats.byKind.telemetry, 0);
      assert.equal(stats.byKind.event, 1);
    } finally {
      store.close();
    }
  });

  test('bounds bytes and age', () => {
    const store = openDatabase(storePath(), logger);
    const limits = { maxRows: 1000, maxBytes: 400, maxAgeS: 60 };
    const publisher = newPublisher(store, 'mqtt://127.0.0.1:1', { limits });
    try {
      const old = new Date(Date.now() - 120_000);
      enqueue(store.db, { topic: TELEMETRY, kind: 'telemetry', payload: { old: true } }, old);
      enqueue(store.db, { topic: ESTIMATES, kind: 'estimate', payload: { old: true } }, old);
      const padding = 'x'.repeat(100);
      for (let n = 0; n < 6; n++) queueKind(publisher, 'telemetry', n);
      for (let n = 0; n < 6; n++) {
        publisher.queue({ topic: TELEMETRY, kind: 'telemetry', payload: { n, padding } });
      }
      const usage = outboxUsage(store.db, limits);
      assert.ok(usage.bytes < limits.maxBytes, `bytes ${usage.bytes} under ${limits.maxBytes}`);
      const rows = peek(store.db, 100);
      assert.equal(rows[0]?.kind, 'estimate', 'the old estimate is kept');
      assert.equal(
        rows.filter((row) => row.payload.includes('"old":true')).length,
        1,
        'only the old estimate is left of the old rows',
      );
      assert.match(rows.at(-1)?.payload ?? '', /"n":5,"padding"/);
    } finally {
      store.close();
    }
  });
});

describe('MqttLink with mosquitto', { skip: mosquittoSkipReason }, () => {
  test('publishNow and subscribe survive restart', async () => {
    const dataDir = await mkdtemp(join(tempDir, 'broker-'));
    let broker: Mosquitto = await startMosquitto(undefined, { persistenceDir: dataDir });
    const store = openDatabase(storePath(), logger);
    const publisher = newPublisher(store, broker.url);
    const requests: string[] = [];
    let connects = 0;
    publisher.onConnect(() => (connects += 1));
    publisher.subscribe(`${BASE}request/+`, (topic, payload) => {
      requests.push(`${topic.slice(BASE.length)} ${payload.toString()}`);
    });
    const fleet = await connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 100 });
    try {
      await publisher.start();
      assert.equal(publisher.topicBase, BASE);
      await publisher.publishNow(`${BASE}status`, { state: 'online' }, { retain: true });
      await fleet.publishAsync(`${BASE}request/ping`, '{"transactionId":"t1"}', { qos: 1 });
      await waitFor(() => requests.length === 1, 'the first request arrived');

      await broker.stop();
      await waitFor(() => !publisher.connected, 'the publisher noticed the broker stop');
      await assert.rejects(
        publisher.publishNow(`${BASE}status`, 'x'),
        (error: unknown) => error instanceof BvEdgeError && error.code === 'MQTT_NOT_CONNECTED',
      );
      broker = await startMosquitto(broker.port, { persistenceDir: dataDir });
      await waitFor(() => publisher.connected && fleet.connected, 'both clients reconnected');
      await fleet.publishAsync(`${BASE}request/health`, '{"transactionId":"t2"}', { qos: 1 });
      await waitFor(() => requests.length === 2, 'the request after the restart arrived');

      assert.deepEqual(requests, [
        'request/ping {"transactionId":"t1"}',
        'request/health {"transactionId":"t2"}',
      ]);
      assert.equal(connects, 2);
    } finally {
      await fleet.endAsync(true);
      await publisher.stop();
      await broker.stop();
      store.close();
    }
  });

  test('500 estimates survive broker restart', async () => {
    const dataDir = await mkdtemp(join(tempDir, 'broker-'));
    let broker = await startMosquitto(undefined, { persistenceDir: dataDir });
    const store = openDatabase(storePath(), logger);
    const subscriber = await subscribe(broker.url, ESTIMATES);
    const publisher = newPublisher(store, broker.url);
    try {
      await publisher.start();
      await broker.stop();
      assert.ok(existsSync(join(dataDir, 'mosquitto.db')), 'broker saved the sessions');
      await waitFor(() => !publisher.connected, 'the publisher noticed the broker stop');
      const ids = queueEstimates(store, 500);
      publisher.wake();
      const offline = await publisher.drain({ timeoutMs: 300 });
      assert.deepEqual(offline, { sent: 0, pending: 500, connected: false });

      broker = await startMosquitto(broker.port, { persistenceDir: dataDir });
      const online = await publisher.drain({ timeoutMs: 30_000 });
      assert.equal(online.pending, 0);
      await waitFor(() => new Set(subscriber.estimateIds()).size === 500, 'all 500 arrived');
      const received = subscriber.estimateIds();
      assert.deepEqual(firstArrivals(received), ids);
      assert.equal(received.length, 500, 'no duplicates without a lost connection');
      const messageIds = subscriber.received.map((m) => m.body.messageId);
      assert.equal(new Set(messageIds).size, 500, 'every payload carries its own messageId');
    } finally {
      await publisher.stop();
      await subscriber.close();
      await broker.stop();
      store.close();
    }
  });

  test('kill -9 mid-drain loses nothing', async () => {
    const broker = await startMosquitto();
    const path = storePath();
    const store = openDatabase(path, logger);
    const ids = queueEstimates(store, 3000);
    const subscriber = await subscribe(broker.url);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'helpers/outbox-child.ts'),
        path,
        broker.url,
        BASE,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(child, 'exit');
    let publisher: OutboxPublisher | null = null;
    try {
      await waitFor(() => subscriber.estimateIds().length >= 300, 'the child sent 300');
      child.kill('SIGKILL');
      await exited;
      const left = peek(store.db, 5000).length;
      assert.ok(left > 0 && left < 3000, `killed mid-drain with ${left} of 3000 queued`);
      await waitFor(
        () => subscriber.received.some((m) => m.topic === `${BASE}status`),
        'the will arrived',
      );
      const will = subscriber.received.find((m) => m.topic === `${BASE}status`);
      assert.deepEqual(will?.body, { state: 'offline' });

      publisher = newPublisher(store, broker.url);
      const result = await publisher.drain({ timeoutMs: 30_000 });
      assert.equal(result.pending, 0);
      await waitFor(() => new Set(subscriber.estimateIds()).size === 3000, 'all 3000 arrived');
      const received = subscriber.received.filter((m) => m.topic === ESTIMATES);
      assert.deepEqual(firstArrivals(received.map((m) => String(m.body.estimateId))), ids);
      // A duplicate is a message whose row the kill left in the outbox after or before its PUBACK:
      // at most one delete batch (64) plus the in-flight window (8). It keeps its messageId.
      const idByEstimate = new Map<unknown, unknown>();
      for (const { body } of received) {
        const known = idByEstimate.get(body.estimateId);
        if (known !== undefined) assert.equal(body.messageId, known, 'duplicate keeps its id');
        idByEstimate.set(body.estimateId, body.messageId);
      }
      assert.ok(received.length - 3000 <= 72, `${received.length - 3000} duplicates at most 72`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await publisher?.stop();
      await subscriber.close();
      await broker.stop();
      store.close();
    }
  });

  test('sends telemetry and events too', async () => {
    const broker = await startMosquitto();
    const store = openDatabase(storePath(), logger);
    const subscriber = await subscribe(broker.url);
    const publisher = newPublisher(store, broker.url);
    try {
      await publisher.start();
      publisher.queue({ topic: TELEMETRY, kind: 'telemetry', payload: { fps: 30 } });
      publisher.queue({ topic: EVENTS, kind: 'event', payload: { type: 'no-signal' } });
      await publisher.drain({ timeoutMs: 5000 });
      await waitFor(() => subscriber.received.length === 2, 'both arrived');
      assert.deepEqual(
        subscriber.received.map((m) => m.topic),
        [TELEMETRY, EVENTS],
      );
      assert.equal(subscriber.received[0]?.body.fps, 30);
      assert.equal(typeof subscriber.received[0]?.body.messageId, 'string');
    } finally {
      await publisher.stop();
      await subscriber.close();
      await broker.stop();
      store.close();
    }
  });
});

describe('protocol fallback', () => {
  test('falls back to 3.1.1 on aedes', async () => {
    const broker = await startEmbeddedBroker();
    const store = openDatabase(storePath(), logger);
    const lines: string[] = [];
    const capture = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const publisher = newPublisher(store, broker.url, { protocolVersion: 5, logger: capture });
    try {
      const ids = queueEstimates(store, 3);
      const result = await publisher.drain({ timeoutMs: 5000 });
      assert.deepEqual(result, { sent: 3, pending: 0, connected: true });
      assert.equal(publisher.protocolVersion, 4);
      const fallbacks = lines.filter((line) => line.includes('falling back to MQTT 3.1.1'));
      assert.equal(fallbacks.length, 1, 'fallback logged once');
      assert.equal(ids.length, 3);
    } finally {
      await publisher.stop();
      await broker.close();
      store.close();
    }
  });
});

describe('bad broker input', () => {
  test('rejects bad scheme with fix', async () => {
    const store = openDatabase(storePath(), logger);
    const publisher = newPublisher(store, 'http://127.0.0.1:1883');
    try {
      await assert.rejects(publisher.start(), (error: unknown) => {
        assert.ok(error instanceof BvEdgeError, 'a BvEdgeError');
        assert.equal(error.code, 'INVALID_BROKER_URL');
        assert.match(error.message, /http:\/\/127\.0\.0\.1:1883/);
        assert.match(error.message, /expected mqtt:\/\/HOST:PORT or mqtts:\/\/HOST:PORT/);
        return true;
      });
    } finally {
      await publisher.stop();
      store.close();
    }
  });
});
