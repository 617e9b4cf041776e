/**
 * Outbox throughput against a local mosquitto: SQLite enqueue rate, OutboxPublisher drain rate
 * (window 1 and the default window) and a raw mqtt.js QoS 1 publish loop to the same broker, with
 * the ratios, in one run. Prints figures; it asserts nothing.
 *
 *   npm run bench:outbox -- [MESSAGES]   (default 5000)
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

import { connectAsync } from 'mqtt';

import { silentLogger } from '../src/core/log.ts';
import { OutboxPublisher } from '../src/mqtt/publisher.ts';
import { openDatabase, type Store } from '../src/store/db.ts';
import { enqueue } from '../src/store/outbox.ts';
import { startMosquitto } from '../tests/helpers/mosquitto.ts';
import { isMainModule } from './main-module.ts';

export const BENCH_TOPIC = 'bv-edge/v1/bench/cart-1/estimates';
const logger = silentLogger();

/** Builds a payload of about 1.5 kB of JSON, an estimate of the size of a real estimate message. */
export function benchPayload(n: number): object {
  return { estimateId: randomUUID(), revision: 1, n, views: [{ padding: 'x'.repeat(1400) }] };
}

/** Messages per second. */
export function rate(n: number, ms: number): number {
  return Math.round((n * 1000) / ms);
}

/** Enqueues `count` messages, one transaction each; returns the time taken, ms. */
export function enqueueAll(store: Store, count: number): number {
  const started = performance.now();
  for (let n = 0; n < count; n++) {
    enqueue(store.db, { topic: BENCH_TOPIC, kind: 'estimate', payload: benchPayload(n) });
  }
  return performance.now() - started;
}

/**
 * Drains every queued message through an OutboxPublisher; returns the drain time, ms. Without
 * `inflightWindow` the publisher uses its default window.
 */
export async function drainAll(
  store: Store,
  url: string,
  inflightWindow?: number,
): Promise<number> {
  const publisher = new OutboxPublisher({
    store,
    brokerUrl: url,
    clientId: `bench-${randomUUID().slice(0, 8)}`,
    logger,
    inflightWindow,
  });
  await publisher.start();
  try {
    const started = performance.now();
    const result = await publisher.drain({ timeoutMs: 600_000 });
    const elapsed = performance.now() - started;
    if (result.pending !== 0) throw new Error(`${result.pending} messages left after the drain`);
    return elapsed;
  } finally {
    await publisher.stop();
  }
}

/** Publishes `count` messages of the same size one after another at QoS 1; returns ms. */
export async function rawPublishLoop(url: string, count: number): Promise<number> {
  const client = await connectAsync(url, { protocolVersion: 5 });
  try {
    const texts = Array.from({ length: count }, (_, n) => JSON.stringify(benchPayload(n)));
    const started = performance.now();
    for (const text of texts) await client.publishAsync(BENCH_TOPIC, text, { qos: 1 });
    return performance.now() - started;
  } finally {
    await client.endAsync();
  }
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 5000);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(
      `Invalid message count ${process.argv[2]}; expected a whole number of 1 or more.`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'bv-edge-bench-outbox-'));
  const broker = await startMosquitto();
  try {
    const store = openDatabase(join(dir, 'bv-edge.sqlite'), logger);
    const enqueueMs = enqueueAll(store, count);
    const window1Ms = await drainAll(store, broker.url, 1);
    enqueueAll(store, count);
    const window8Ms = await drainAll(store, broker.url, 8);
    store.close();
    const rawMs = await rawPublishLoop(broker.url, count);

    const rows = [
      ['SQLite enqueue (one transaction each, synchronous=FULL)', rate(count, enqueueMs)],
      ['OutboxPublisher drain, window 1', rate(count, window1Ms)],
      ['OutboxPublisher drain, window 8 (default)', rate(count, window8Ms)],
      ['raw mqtt.js publishAsync QoS 1 loop', rate(count, rawMs)],
    ] as const;
    process.stdout.write(`${count} messages of ~1.5 kB, mosquitto on 127.0.0.1, `);
    process.stdout.write(`${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'})\n`);
    for (const [name, perSecond] of rows) {
      process.stdout.write(`${name.padEnd(58)} ${String(perSecond).padStart(7)} msg/s\n`);
    }
    process.stdout.write(`drain/raw ratio, window 1: ${(rawMs / window1Ms).toFixed(2)}\n`);
    process.stdout.write(`drain/raw ratio, window 8: ${(rawMs / window8Ms).toFixed(2)}\n`);
  } finally {
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta.url)) await main();
