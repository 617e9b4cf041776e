/**
 * The broker goes down while a case is recorded on live phantom capture and closed. The estimate
 * waits in the outbox, and once the broker is back it reaches a subscriber exactly once by its
 * estimate id, and the retained status is online again, published after the restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';

import { connectAsync, type MqttClient } from 'mqtt';

import { CaptureService } from '../../src/capture/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { VIEW_NAMES } from '../../src/core/image.ts';
import { silentLogger } from '../../src/core/log.ts';
import { defaultTopicBase } from '../../src/mqtt/topics.ts';
import type { CaseSnapshot } from '../../src/workflow/types.ts';
import { record } from '../helpers/fleet.ts';
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import {
  assertStoreIntact,
  seedCases,
  startTestDaemon,
  type TestDaemon,
} from './helpers/harness.ts';

/** Long enough for the reference model's window of 32 frames at 10 Hz. */
const RECORD_SECONDS = 3.5;
const SITE = 'outage';
const DEVICE = 'cart-o';
const BASE = defaultTopicBase(SITE, DEVICE);

let folder = '';
let brokerData = '';
let broker: Mosquitto | null = null;
let capture: CaptureService | null = null;
let daemon: TestDaemon | null = null;
let server: MqttClient | null = null;
/** Estimate ids in arrival order. */
const estimates: string[] = [];

before(async () => {
  if (mosquittoSkipReason) return;
  folder = mkdtempSync(join(tmpdir(), 'bv-edge-outage-'));
  brokerData = mkdtempSync(join(tmpdir(), 'bv-edge-outage-broker-'));
  broker = await startMosquitto(undefined, { persistenceDir: brokerData });
  // A persistent session, so the broker keeps the subscription and queues for it across restarts.
  server = await connectAsync(broker.url, {
    clientId: 'outage-central-server',
    clean: false,
    reconnectPeriod: 200,
  });
  await server.subscribeAsync(`${BASE}estimates`, { qos: 1 });
  server.on('message', (_topic, payload) => {
    estimates.push((JSON.parse(payload.toString()) as { estimateId: string }).estimateId);
  });
});

after(async () => {
  await daemon?.stop();
  await capture?.stop();
  await server?.endAsync(true);
  await broker?.stop();
  for (const dir of [folder, brokerData]) if (dir) rmSync(dir, { recursive: true, force: true });
});

async function api<T>(base: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(new URL(`api/workflow${path}`, base), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as T;
  assert.ok(response.status < 300, `${path}: HTTP ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function waitForReview(base: string): Promise<CaseSnapshot> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const { case: snapshot } = await api<{ case: CaseSnapshot }>(base, '');
    if (snapshot.step === 'review') return snapshot;
    await delay(200);
  }
  assert.fail('recording did not reach review within 90 s');
}

async function mqttConnected(base: string): Promise<boolean> {
  const status = (await (await fetch(new URL('api/status', base))).json()) as {
    mqtt: { connected: boolean };
  };
  return status.mqtt.connected;
}

test('broker outage during a scan', { skip: mosquittoSkipReason, timeout: 300_000 }, async () => {
  const seeded = seedCases(folder, 2);
  const overrides = {
    mqtt: { url: broker!.url, site: SITE, device: DEVICE },
    fleet: { telemetryIntervalS: 3600 },
    capture: { source: { kind: 'phantom' as const, view: 'ca' as const } },
  };
  const config = loadConfig({ dataDir: folder, providers: ['cpu'], ...overrides }, { env: {} });
  capture = new CaptureService({
    capture: config.capture,
    dataDir: folder,
    logger: silentLogger(),
  });
  await capture.start();
  daemon = await startTestDaemon(folder, overrides, capture);
  const url = daemon.url;
  const watcher = await record(broker!.url, [`${BASE}status`]);
  const online = (await watcher.next(`${BASE}status`, () => true, 20_000)) as { state: string };
  assert.equal(online.state, 'online');
  await watcher.close();

  await api(url, '/case', { caseId: 'outage-1', heightCm: 180, weightKg: 82, sex: 'male' });
  let outageStarted = '';
  for (const view of VIEW_NAMES) {
    await api(url, '/recording', { view, durationS: RECORD_SECONDS });
    if (view === VIEW_NAMES[VIEW_NAMES.length - 1]) {
      outageStarted = new Date().toISOString();
      await broker!.stop();
    }
    const snapshot = await waitForReview(url);
    assert.ok(
      snapshot.pendingAttempt?.result,
      `${view}: ${JSON.stringify(snapshot.pendingAttempt?.quality)}`,
    );
    await api(url, '/accept', {});
  }
  const { record: closed } = await api<{ record: { estimateId: string } }>(url, '/close', {});
  assert.equal(
    await mqttConnected(url),
    false,
    'the daemon reports MQTT connected while it is down',
  );
  const status = (await (await fetch(new URL('api/status', url))).json()) as {
    outbox: { depth: number };
  };
  assert.ok(status.outbox.depth >= 1, `outbox depth ${status.outbox.depth} during the outage`);
  assert.equal(estimates.length, 0, 'an estimate arrived while the broker was down');

  const restartedAt = new Date().toISOString();
  broker = await startMosquitto(broker!.port, { persistenceDir: brokerData });
  const deadline = Date.now() + 120_000;
  while (!estimates.includes(closed.estimateId) && Date.now() < deadline) await delay(200);
  assert.ok(estimates.includes(closed.estimateId), 'the estimate did not arrive after the restart');
  // Give a duplicate time to show up.
  await delay(2000);
  assert.deepEqual(estimates, [closed.estimateId], 'the estimate arrived more than once');

  const fresh = await record(broker.url, [`${BASE}status`]);
  try {
    const again = (await fresh.next(
      `${BASE}status`,
      (payload) => ((payload as { at?: string }).at ?? '') >= restartedAt,
      30_000,
    )) as { state: string; reason: string };
    assert.equal(again.state, 'online');
    assert.equal(again.reason, 'connected');
    const retained = fresh.messages.filter((m) => m.topic === `${BASE}status`).at(-1)!;
    assert.equal((retained.payload as { state: string }).state, 'online');
  } finally {
    await fresh.close();
  }
  assert.equal(await mqttConnected(url), true, 'the daemon did not reconnect');
  const stored = assertStoreIntact(folder, [...seeded, 'outage-1']);
  console.log(
    `broker outage: broker down from ${outageStarted} to ${restartedAt}; estimate ` +
      `${closed.estimateId} received ${estimates.length} time(s); ${stored} cases stored`,
  );
});
