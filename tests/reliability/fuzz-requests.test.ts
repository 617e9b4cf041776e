/**
 * Fuzzed fleet requests to a running daemon over a real mosquitto: random JSON, wrong types,
 * oversized and binary payloads, unknown commands and requests without a transaction id. Each one
 * gets a response that carries its transaction id, or, when it has none, is logged as rejected
 * and reported in a request-rejected event. Afterwards ping still gets a response and the stored cases
 * are intact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { defaultTopicBase } from '../../src/mqtt/topics.ts';
import { record, type Recorder } from '../helpers/fleet.ts';
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import {
  assertStoreIntact,
  Fuzzer,
  logged,
  random,
  seedCases,
  startTestDaemon,
  type TestDaemon,
} from './helpers/harness.ts';

const REQUESTS = Number(process.env.BV_EDGE_FUZZ_REQUESTS ?? 400);
const SEED = 20260310;
const SITE = 'fuzz';
const DEVICE = 'cart-r';
const BASE = defaultTopicBase(SITE, DEVICE);
/** Built-in commands and those of model delivery, plus names no daemon registers. */
const COMMANDS = [
  'ping',
  'health',
  'config-get',
  'config-set',
  'capture-restart',
  'model-list',
  'outbox-stats',
  'log-tail',
  'model-begin',
  'model-chunk',
  'model-install',
  'model-activate',
  'model-rollback',
  'reboot',
  'drop-tables',
  'Ping',
  'x'.repeat(200),
  'config-set.extra',
];
/** fleet.maxRequestBytes default, bytes. */
const MAX_REQUEST_BYTES = 65_536;

interface FuzzRequest {
  command: string;
  payload: Buffer;
  /** The transaction id the response must carry; null when the request must be rejected. */
  transactionId: string | null;
  kind: string;
}

let folder = '';
let broker: Mosquitto;
let daemon: TestDaemon;
let recorder: Recorder;
let seeded: string[] = [];

before(async () => {
  if (mosquittoSkipReason) return;
  folder = mkdtempSync(join(tmpdir(), 'bv-edge-fuzz-requests-'));
  seeded = seedCases(folder, 3);
  broker = await startMosquitto();
  recorder = await record(broker.url, [`${BASE}response/+`, `${BASE}events`]);
  daemon = await startTestDaemon(folder, {
    mqtt: { url: broker.url, site: SITE, device: DEVICE },
    fleet: { telemetryIntervalS: 3600 },
  });
});

after(async () => {
  await daemon?.stop();
  await recorder?.close();
  await broker?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

/** Builds request `index`: one of seven kinds of bad or odd input, drawn from `fuzz`. */
function buildRequest(fuzz: Fuzzer, index: number): FuzzRequest {
  const command = fuzz.pick(COMMANDS);
  const transactionId = `fuzz-${index}`;
  const envelope = (body: unknown): FuzzRequest => ({
    command,
    payload: Buffer.from(JSON.stringify(body)),
    transactionId,
    kind: 'random params',
  });
  switch (fuzz.int(8)) {
    case 0:
      return { ...envelope({ transactionId, params: fuzz.json() }), kind: 'random params' };
    case 1:
      return {
        ...envelope({ transactionId, params: fuzz.json(), [fuzz.text(6) || 'x']: fuzz.json(1) }),
        kind: 'unknown field',
      };
    case 2:
      return {
        ...envelope({ transactionId, params: fuzz.pick(['text', 7, [], null, true]) }),
        kind: 'wrong params type',
      };
    case 3: {
      // A transaction id that is not a 1-128 character string makes the request unanswerable.
      const badId = fuzz.pick([42, '', 'x'.repeat(129), null, { id: 1 }, ['a']]);
      return {
        command,
        payload: Buffer.from(JSON.stringify({ transactionId: badId, params: {} })),
        transactionId: null,
        kind: 'bad transaction id',
      };
    }
    case 4: {
      // The id is read from the start of an oversized payload, so the error can be answered.
      const filler = 'A'.repeat(MAX_REQUEST_BYTES + fuzz.int(50_000));
      const text = `{"transactionId":"${transactionId}","params":{"pad":"${filler}"}}`;
      return { command, payload: Buffer.from(text), transactionId, kind: 'oversized' };
    }
    case 5:
      return { command, payload: fuzz.bytes(), transactionId: null, kind: 'binary' };
    case 6: {
      const value = fuzz.json();
      // Only an object with a valid transactionId can be answered; the fuzzer never writes one.
      return {
        command,
        payload: Buffer.from(JSON.stringify(value) ?? 'undefined'),
        transactionId: null,
        kind: 'random JSON',
      };
    }
    default:
      return {
        command,
        payload: Buffer.from(`{"transactionId":"${transactionId}","params":${fuzz.text(12)}`),
        transactionId,
        kind: 'broken JSON',
      };
  }
}

interface Response {
  transactionId: string;
  status: 'ok' | 'error';
  error: { code: string; message: string } | null;
}

function responsesByTransaction(): Map<string, { topic: string; response: Response }> {
  const found = new Map<string, { topic: string; response: Response }>();
  for (const message of recorder.messages) {
    if (!message.topic.startsWith(`${BASE}response/`)) continue;
    const response = message.payload as Response;
    found.set(response.transactionId, { topic: message.topic, response });
  }
  return found;
}

test('fuzzed requests are answered', { skip: mosquittoSkipReason, timeout: 180_000 }, async () => {
  const fuzz = new Fuzzer(random(SEED));
  const requests = Array.from({ length: REQUESTS }, (_, i) => buildRequest(fuzz, i));
  for (const request of requests) {
    await recorder.client.publishAsync(`${BASE}request/${request.command}`, request.payload, {
      qos: 1,
    });
  }
  const answerable = requests.filter((request) => request.transactionId !== null);
  const unanswerable = requests.length - answerable.length;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const rejected = logged(daemon.lines, 'fleet request rejected').length;
    if (responsesByTransaction().size >= answerable.length && rejected >= unanswerable) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const responses = responsesByTransaction();
  const codes = new Map<string, number>();
  let ok = 0;
  for (const request of answerable) {
    const found = responses.get(request.transactionId!);
    assert.ok(found, `${request.kind} ${request.command}: no response to ${request.transactionId}`);
    assert.equal(found.topic, `${BASE}response/${request.command}`);
    if (found.response.status === 'ok') {
      ok++;
      assert.equal(found.response.error, null, `${request.transactionId}: ok with an error`);
      continue;
    }
    const error = found.response.error;
    assert.ok(error, `${request.transactionId}: error response without an error`);
    assert.notEqual(error.code, 'internal_error', `${request.kind}: ${error.message}`);
    assert.ok(error.message.length > 10, `${request.transactionId}: message "${error.message}"`);
    codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
  }
  const rejected = logged(daemon.lines, 'fleet request rejected');
  assert.equal(rejected.length, unanswerable, 'not every unanswerable request was logged');
  for (const entry of rejected) {
    assert.equal(typeof entry.code, 'string', `rejection without a code: ${JSON.stringify(entry)}`);
  }
  const events = await recorder.next(
    `${BASE}events`,
    (payload) => (payload as { type: string }).type === 'request-rejected',
    20_000,
  );
  assert.ok(events, 'no request-rejected event');
  const eventCount = recorder.messages.filter(
    (message) =>
      message.topic === `${BASE}events` &&
      (message.payload as { type: string }).type === 'request-rejected',
  ).length;
  // At most ten request-rejected events a minute; the daemon counts the rest into the next one.
  assert.ok(eventCount <= 10, `${eventCount} request-rejected events in the first minute`);

  const pingId = 'after-fuzz-ping';
  await recorder.client.publishAsync(
    `${BASE}request/ping`,
    JSON.stringify({ transactionId: pingId }),
    { qos: 1 },
  );
  const pong = (await recorder.next(
    `${BASE}response/ping`,
    (payload) => (payload as Response).transactionId === pingId,
  )) as Response & { data: { pong: boolean } };
  assert.equal(pong.status, 'ok');
  assert.equal(pong.data.pong, true);

  const stored = assertStoreIntact(folder, seeded);
  const byCode = [...codes].map(([code, n]) => `${code} ${n}`).join(', ');
  console.log(
    `fuzz requests: ${requests.length} sent, ${answerable.length} answered by id ` +
      `(${ok} ok; errors: ${byCode}), ${unanswerable} rejected without id ` +
      `(${eventCount} request-rejected events), ${stored} cases stored after`,
  );
});
