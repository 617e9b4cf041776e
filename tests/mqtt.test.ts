import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { connectAsync } from 'mqtt';
import { pino } from 'pino';

import { BvEdgeError } from '../src/core/errors.ts';
import { silentLogger } from '../src/core/log.ts';
import { startEmbeddedBroker } from '../src/mqtt/broker.ts';
import { estimateMessage } from '../src/mqtt/payload.ts';
import { OutboxPublisher, type OutboxPublisherOptions } from '../src/mqtt/publisher.ts';
import { defaultTopicBase, estimatesTopic } from '../src/mqtt/topics.ts';
import { notice } from '../src/notices/index.ts';
import type { ScanRecord } from '../src/scan/types.ts';
import { openDatabase, type Store } from '../src/store/db.ts';
import { enqueue, outboxStats, peek } from '../src/store/outbox.ts';
import { saveScan } from '../src/store/scans.ts';
import { freePort, mosquittoSkipReason, startMosquitto } from './helpers/mosquitto.ts';
import { measuredView } from './helpers/view-result.ts';

const logger = silentLogger();
const TOPIC = estimatesTopic(defaultTopicBase('test-site', 'cart-1'));
let tempDir = '';

before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'bv-edge-mqtt-'));
});

after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

function openTempStore(): Store {
  return openDatabase(join(tempDir, randomUUID(), 'bv-edge.sqlite'), logger);
}

function sampleRecord(caseId: string): ScanRecord {
  return {
    caseId,
    estimateId: randomUUID(),
    createdAt: '2025-03-14T09:26:53.000Z',
    covariates: { heightCm: 165, weightKg: 58, sex: 'female', ageYears: 41 },
    views: [
      // The folder names the patient, as a USB stick from another system might.
      measuredView('ivc', {
        source: '/media/usb/Roe_Jane/ivc.mp4',
        areaSeriesMm2: [210.1, 205.3],
        features: [0.25],
      }),
    ],
    estimate: {
      bvMl: 3920,
      bvMlPerKg: 67.59,
      lowerMl: 3400,
      upperMl: 4440,
      nadlerMl: 3850,
      modelName: 'bv-reference',
      modelVersion: '0.1.0',
      intendedUse: 'research and engineering tests',
      notice: 'Reference model, not for clinical use.',
      executionProvider: 'cpu',
      population: {
        inPopulation: false,
        reasons: [notice('notice.population.hbMissing', { min: 10 })],
      },
    },
  };
}

/** Queues `count` scans with their estimate messages, as the daemon does; returns estimate ids. */
function queueScans(store: Store, count: number): string[] {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    const record = sampleRecord(`case-${randomUUID().slice(0, 8)}`);
    saveScan(store, record, [{ topic: TOPIC, payload: estimateMessage(record) }]);
    ids.push(record.estimateId);
  }
  return ids;
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
    connectTimeoutMs: 1000,
    reconnectPeriodMs: 200,
    ...options,
  });
}

interface Subscriber {
  /** Estimate ids in arrival order. */
  received: string[];
  close(): Promise<void>;
}

/** Subscribes to TOPIC with QoS 1 and records the estimateId of each message. */
async function subscribe(url: string): Promise<Subscriber> {
  const client = await connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  const received: string[] = [];
  client.on('message', (_topic, payload) => {
    received.push((JSON.parse(payload.toString()) as { estimateId: string }).estimateId);
  });
  await client.subscribeAsync(TOPIC, { qos: 1 });
  return { received, close: () => client.endAsync() };
}

/** Waits for late duplicates: QoS 1 re-sends would arrive within this time on loopback. */
async function settle(): Promise<void> {
  await delay(300);
}

/**
 * A TCP relay in front of a broker, so a test can cut the publisher's link while the broker and
 * the subscriber stay up.
 */
class LinkRelay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private readonly upstreamPort: number,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const server = createServer((socket) => this.relay(socket));
    server.listen(this.port, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    this.server = server;
  }

  async down(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  private relay(socket: Socket): void {
    const upstream = connectTcp(this.upstreamPort, '127.0.0.1');
    for (const side of [socket, upstream]) {
      this.sockets.add(side);
      side.on('error', () => side.destroy());
      side.on('close', () => {
        this.sockets.delete(side);
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream).pipe(socket);
  }
}

describe('estimateMessage', () => {
  test('carries estimate with units', () => {
    const record = sampleRecord('case-payload');
    const message = estimateMessage(record);
    assert.equal(message.schema, 'bv-edge/estimate');
    assert.equal(message.schemaVersion, 1);
    assert.equal(message.estimateId, record.estimateId);
    assert.equal(message.revision, 1);
    assert.equal(message.caseId, 'case-payload');
    assert.equal(message.createdAt, '2025-03-14T09:26:53.000Z');
    assert.deepEqual(message.model, {
      name: 'bv-reference',
      version: '0.1.0',
      intendedUse: 'research and engineering tests',
      notice: 'Reference model, not for clinical use.',
    });
    assert.equal(message.executionProvider, 'cpu');
    assert.deepEqual(message.bloodVolume, {
      value: 3920,
      unit: 'mL',
      interval: { level: 0.95, lower: 3400, upper: 4440 },
    });
    assert.deepEqual(message.bloodVolumePerKg, { value: 67.59, unit: 'mL/kg' });
    assert.deepEqual(message.nadlerBloodVolume, { value: 3850, unit: 'mL' });
  });

  test('summarizes each view', () => {
    const [view] = estimateMessage(sampleRecord('case-views')).views;
    assert.ok(view);
    assert.equal(view.view, 'ivc');
    assert.equal(view.frameCount, 90);
    assert.deepEqual(view.duration, { value: 3, unit: 's' });
    assert.deepEqual(view.lumenArea, { mean: 210.5, min: 150.2, max: 260.9, unit: 'mm2' });
    assert.deepEqual(view.apDiameter, { mean: 16.2, min: 12.1, max: 19.8, unit: 'mm' });
    assert.deepEqual(view.collapsibilityIndex, { value: 0.389, unit: '1' });
    assert.deepEqual(view.trackedFraction, { value: 0.95, unit: '1' });
    assert.equal(view.pulsatilityIndex, undefined);
    assert.equal(view.heartRate, undefined);
  });

  test('sends non-finite values as null', () => {
    const record = sampleRecord('case-nan');
    record.views[0]!.measurements.areaMm2.mean = Number.NaN;
    const json = JSON.parse(JSON.stringify(estimateMessage(record))) as ReturnType<
      typeof estimateMessage
    >;
    assert.equal(json.views[0]?.lumenArea.mean, null);
  });

  test('carries no name, MRN or clip path', () => {
    // Extra properties as a careless caller might attach them at run time.
    const record = Object.assign(sampleRecord('case-private'), {
      patientName: 'Jane Roe',
      mrn: 'MRN-0042',
    });
    Object.assign(record.covariates, { dateOfBirth: '1984-02-29' });
    const text = JSON.stringify(estimateMessage(record));
    for (const secret of ['Jane Roe', 'MRN-0042', '1984-02-29', 'Roe_Jane', 'ivc.mp4']) {
      assert.ok(!text.includes(secret), `payload contains ${secret}`);
    }
    const keys = collectKeys(JSON.parse(text));
    for (const key of keys) {
      assert.doesNotMatch(key, /patient|mrn|birth|dob|first|last|surname|address|phone/i);
    }
    assert.ok(!keys.includes('covariates'), 'covariates stay on the cart');
  });
});

function collectKeys(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(collectKeys);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => [key, ...collectKeys(child)]);
}

describe('topics', () => {
  test('builds default estimates topic', () => {
    assert.equal(defaultTopicBase('site-a', 'cart-7'), 'bv-edge/v1/site-a/cart-7/');
    assert.equal(estimatesTopic('bv-edge/v1/site-a/cart-7/'), 'bv-edge/v1/site-a/cart-7/estimates');
  });

  test('rejects wildcards and separators', () => {
    for (const [site, device] of [
      ['site/a', 'cart'],
      ['site', 'cart+'],
      ['#', 'cart'],
      ['', 'cart'],
    ] as const) {
      assert.throws(
        () => defaultTopicBase(site, device),
        (error: unknown) => error instanceof BvEdgeError && error.code === 'INVALID_MQTT_TOPIC',
        `${site} ${device}`,
      );
    }
    assert.throws(() => estimatesTopic('bv-edge/v1/site'), /must end with "\/"/);
  });
});

describe('OutboxPublisher with mosquitto', { skip: mosquittoSkipReason }, () => {
  test('delivers in order exactly once', async () => {
    const broker = await startMosquitto();
    const store = openTempStore();
    const subscriber = await subscribe(broker.url);
    const publisher = newPublisher(store, broker.url);
    try {
      const ids = queueScans(store, 5);
      await publisher.start();
      assert.equal(publisher.connected, true);

      const result = await publisher.drain({ timeoutMs: 5000 });
      await settle();
      assert.deepEqual(result, { sent: 5, pending: 0, connected: true });
      assert.deepEqual(subscriber.received, ids);
      assert.equal(outboxStats(store.db).depth, 0);
    } finally {
      await publisher.stop();
      await subscriber.close();
      await broker.stop();
      store.close();
    }
  });

  test('delivers over MQTT 5', async () => {
    const broker = await startMosquitto();
    const store = openTempStore();
    const subscriber = await subscribe(broker.url);
    const publisher = newPublisher(store, broker.url, { protocolVersion: 5 });
    try {
      const ids = queueScans(store, 2);
      const result = await publisher.drain({ timeoutMs: 5000 });
      await settle();
      assert.deepEqual(result, { sent: 2, pending: 0, connected: true });
      assert.deepEqual(subscriber.received, ids);
    } finally {
      await publisher.stop();
      await subscriber.close();
      await broker.stop();
      store.close();
    }
  });

  test('publishes messages queued after start', async () => {
    const broker = await startMosquitto();
    const store = openTempStore();
    const subscriber = await subscribe(broker.url);
    const publisher = newPublisher(store, broker.url, { pollIntervalMs: 60_000 });
    try {
      await publisher.start();
      const ids = queueScans(store, 3);
      publisher.wake();
      const result = await publisher.drain({ timeoutMs: 5000 });
      await settle();
      assert.equal(result.pending, 0);
      assert.deepEqual(subscriber.received, ids);
    } finally {
      await publisher.stop();
      await subscriber.close();
      await broker.stop();
      store.close();
    }
  });

  test('keeps messages while broker is down', async () => {
    const port = await freePort();
    const store = openTempStore();
    const ids = queueScans(store, 3);

    const offline = newPublisher(store, `mqtt://127.0.0.1:${port}`, { connectTimeoutMs: 300 });
    const started = Date.now();
    const down = await offline.drain({ timeoutMs: 800 });
    await offline.stop();
    assert.deepEqual(down, { sent: 0, pending: 3, connected: false });
    assert.ok(Date.now() - started < 3000, 'drain did not return near its timeout');
    assert.deepEqual(
      peek(store.db, 10).map((row) => JSON.parse(row.payload).estimateId),
      ids,
    );

    const broker = await startMosquitto(port);
    const subscriber = await subscribe(broker.url);
    const online = newPublisher(store, broker.url);
    try {
      const up = await online.drain({ timeoutMs: 5000 });
      await settle();
      assert.deepEqual(up, { sent: 3, pending: 0, connected: true });
      assert.deepEqual(subscriber.received, ids);
    } finally {
      await online.stop();
      await subscriber.close();
      await broker.stop();
      store.close();
    }
  });

  test('resumes after the link comes back', async () => {
    const broker = await startMosquitto();
    const relay = new LinkRelay(await freePort(), broker.port);
    await relay.up();
    const store = openTempStore();
    const subscriber = await subscribe(broker.url);
    const publisher = newPublisher(store, relay.url);
    try {
      await publisher.start();
      const before = queueScans(store, 1);
      assert.equal((await publisher.drain({ timeoutMs: 5000 })).sent, 1);

      await relay.down();
      await waitFor(() => !publisher.connected, 'publisher noticed the lost link');
      const during = queueScans(store, 2);
      publisher.wake();
      const offline = await publisher.drain({ timeoutMs: 500 });
      assert.deepEqual(offline, { sent: 0, pending: 2, connected: false });

      await relay.up();
      const online = await publisher.drain({ timeoutMs: 5000 });
      await settle();
      assert.deepEqual(online, { sent: 2, pending: 0, connected: true });
      assert.deepEqual(subscriber.received, [...before, ...during]);
    } finally {
      await publisher.stop();
      await relay.down();
      await subscriber.close();
      await broker.stop();
      store.close();
    }
  });
});

describe('OutboxPublisher with embedded aedes', () => {
  test('delivers end to end', async () => {
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
    const store = openTempStore();
    const subscriber = await subscribe(broker.url);
    const publisher = newPublisher(store, broker.url);
    try {
      assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(broker.port > 0);
      const ids = queueScans(store, 4);
      const result = await publisher.drain({ timeoutMs: 5000 });
      await settle();
      assert.deepEqual(result, { sent: 4, pending: 0, connected: true });
      assert.deepEqual(subscriber.received, ids);
    } finally {
      await publisher.stop();
      await subscriber.close();
      await broker.close();
      store.close();
    }
  });
});

describe('OutboxPublisher without broker', () => {
  test('start and stop do not throw', async () => {
    const port = await freePort();
    const store = openTempStore();
    enqueue(store.db, { topic: TOPIC, payload: { n: 1 } });
    const publisher = newPublisher(store, `mqtt://127.0.0.1:${port}`, { connectTimeoutMs: 200 });
    try {
      await publisher.start();
      assert.equal(publisher.connected, false);
    } finally {
      await publisher.stop();
      store.close();
    }
    assert.equal(publisher.sent, 0);
  });

  test('rejects invalid broker URLs', async () => {
    const store = openTempStore();
    try {
      for (const url of ['gopher://127.0.0.1:1883', '127.0.0.1:1883', 'mqtt://']) {
        const publisher = newPublisher(store, url);
        await assert.rejects(publisher.start(), (error: unknown) => {
          assert.ok(error instanceof BvEdgeError, url);
          assert.equal(error.code, 'INVALID_BROKER_URL', url);
          return true;
        });
        await publisher.stop();
      }
    } finally {
      store.close();
    }
  });

  test('never logs the broker password', async () => {
    const port = await freePort();
    const store = openTempStore();
    const lines: string[] = [];
    const capture = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const url = `mqtt://bv-edge:s3cret-pass@127.0.0.1:${port}`;
    const publisher = newPublisher(store, url, { logger: capture, connectTimeoutMs: 200 });
    try {
      await publisher.start();
    } finally {
      await publisher.stop();
      store.close();
    }
    assert.ok(lines.length > 0, 'publisher logged nothing');
    for (const line of lines) assert.ok(!line.includes('s3cret-pass'), line);
  });
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(20);
  }
}
