import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { Hl7Context, Hl7Field, Hl7Message, type Hl7Segment } from '@medplum/core';
import Database from 'better-sqlite3';
import { pino, type Logger } from 'pino';

import { CaptureService } from '../src/capture/index.ts';
import { workflowSettings } from '../src/commands/run.ts';
import { Hl7Schema, type Hl7Config } from '../src/config/hl7-schema.ts';
import { loadConfig, Secret } from '../src/config/index.ts';
import { BvEdgeError } from '../src/core/errors.ts';
import { VIEW_NAMES } from '../src/core/image.ts';
import { plainNotice, type Notice } from '../src/core/notice.ts';
import { Daemon } from '../src/daemon.ts';
import { parseAck, InvalidAckError } from '../src/hl7/ack.ts';
import { escapeHl7, unescapeHl7 } from '../src/hl7/escape.ts';
import { buildObservationMessage, PCD01_PROFILE, withMrn } from '../src/hl7/message.ts';
import { frameMllp, MllpDecoder, MllpError } from '../src/hl7/mllp.ts';
import { getMrn } from '../src/hl7/mrn-store.ts';
import { findHl7ByEstimate } from '../src/hl7/outbox.ts';
import { createHl7Api, Hl7Service, toHl7Summary } from '../src/hl7/index.ts';
import { parseManifest } from '../src/inference/manifest.ts';
import type { ScanRecord } from '../src/scan/types.ts';
import { openDatabase, type Store } from '../src/store/db.ts';
import { auditLog } from '../src/store/schema.ts';
import type { CaseSnapshot } from '../src/workflow/types.ts';
import { freePort } from './helpers/mosquitto.ts';
import { startMllpListener } from './helpers/mllp.ts';
import { repoRoot } from './helpers/data.ts';

const SPECIAL = 'a|b^c~d\\e&f';
const MRN = 'MRN-000417';

let tempDir = '';

before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'bv-edge-hl7-'));
});

after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

/** Creates a logger that keeps every line, to check what was logged and that no MRN was. */
function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

function openTempStore(path = join(tempDir, randomUUID(), 'bv-edge.sqlite')): Store {
  return openDatabase(path, pino({ level: 'silent' }));
}

function hl7Config(port: number, overrides: Record<string, unknown> = {}): Hl7Config {
  return Hl7Schema.parse({
    enabled: true,
    host: '127.0.0.1',
    port,
    connectTimeoutMs: 500,
    ackTimeoutMs: 300,
    retry: { initialDelayMs: 50, maxDelayMs: 200 },
    pointOfCare: 'OR-3',
    mrnAssigningAuthority: 'HOSP',
    ...overrides,
  });
}

function sampleRecord(estimate: Partial<ScanRecord['estimate']> = {}): ScanRecord {
  return {
    caseId: `case-${randomUUID().slice(0, 8)}`,
    estimateId: randomUUID(),
    createdAt: '2025-03-14T09:26:53.000Z',
    covariates: { heightCm: 165, weightKg: 58, sex: 'female', ageYears: 41 },
    views: (['ijv', 'ivc'] as const).map((view) => ({
      view,
      source: `${view}.mp4`,
      imageArea: { x: 0, y: 0, width: 640, height: 480 },
      seed: { x: 320, y: 240 },
      seeded: false,
      frameCount: 90,
      fps: 30,
      durationS: 3,
      mmPerPixel: 0.1,
      measurements: {
        areaMm2: { mean: 100, min: 80, max: 120 },
        apDiameterMm: { mean: 10, min: 8, max: 12 },
        lateralDiameterMm: { mean: 12, min: 11, max: 13 },
        trackedFraction: 1,
      },
      areaSeriesMm2: [100],
      features: [0.1],
    })),
    estimate: {
      bvMl: 3921.6,
      bvMlPerKg: 67.614,
      lowerMl: 3400.2,
      upperMl: 4440.7,
      nadlerMl: 3850.4,
      modelName: `bv-model ${SPECIAL}`,
      modelVersion: '1.2.0',
      intendedUse: 'clinical',
      notice: 'Cleared for use in adults.',
      executionProvider: 'cpu',
      population: {
        inPopulation: false,
        reasons: [plainNotice('Hb not entered & age > 80 ^ unknown')],
      },
      ...estimate,
    },
  };
}

/** Polls `condition` every 20 ms and fails with `what` when it is still false after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/** Starts a service on `store` (a fresh one by default) and stops both through `cleanup`. */
async function startService(
  config: Hl7Config,
  cleanup: (fn: () => Promise<void> | void) => void,
  store = openTempStore(),
): Promise<{ service: Hl7Service; store: Store; lines: string[] }> {
  const { logger, lines } = recordingLogger();
  const service = new Hl7Service({ store, config, deviceName: 'cart-1', logger });
  await service.start();
  cleanup(async () => {
    await service.stop();
    store.close();
  });
  return { service, store, lines };
}

function outboxRow(store: Store, estimateId: string) {
  const row = findHl7ByEstimate(store.db, estimateId);
  assert.ok(row, `outbox row of estimate ${estimateId} exists`);
  return row;
}

function segmentNames(message: Hl7Message): string[] {
  return message.segments.map((segment) => segment.name);
}

function value(segment: Hl7Segment, field: number, component = 1, repetition = 0): string {
  return unescapeHl7(
    segment.getComponent(field, component, undefined, repetition),
    segment.context,
  );
}

describe('HL7 escaping', () => {
  test('medplum leaves delimiters unescaped', () => {
    // This is why src/hl7/escape.ts exists; if @medplum/core starts escaping, values would be
    // escaped twice and this test shows it.
    const field = new Hl7Field([[SPECIAL]], new Hl7Context());
    assert.equal(field.toString(), SPECIAL);
  });

  test('escape and unescape round trip', () => {
    const context = new Hl7Context();
    const cases: [string, string][] = [
      ['|', '\\F\\'],
      ['^', '\\S\\'],
      ['~', '\\R\\'],
      ['\\', '\\E\\'],
      ['&', '\\T\\'],
      ['line 1\r\nline 2', 'line 1\\X0D\\\\X0A\\line 2'],
      ['血容量 3.9 L', '血容量 3.9 L'],
      [SPECIAL, 'a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f'],
    ];
    for (const [plain, escaped] of cases) {
      assert.equal(escapeHl7(plain, context), escaped, `escape of ${JSON.stringify(plain)}`);
      assert.equal(unescapeHl7(escaped, context), plain, `unescape of ${JSON.stringify(escaped)}`);
    }
  });

  test('unescape keeps unknown sequences', () => {
    const context = new Hl7Context();
    assert.equal(unescapeHl7('a\\H\\b\\.br\\c', context), 'a\\H\\b\\.br\\c');
    assert.equal(unescapeHl7('trailing \\', context), 'trailing \\');
    assert.equal(unescapeHl7('\\X41\\\\XC3A9\\', context), 'Aé');
  });
});

describe('ORU^R01 message', () => {
  const settings = hl7Config(2575);

  function build(record: ScanRecord, researchUse = false): Hl7Message {
    const message = buildObservationMessage({
      record,
      controlId: 'CTRL0001',
      createdAt: new Date('2025-03-14T09:30:00.000Z'),
      deviceName: 'cart-1',
      researchUse,
      settings,
    });
    return Hl7Message.parse(withMrn(message.toString(), MRN, settings.mrnAssigningAuthority));
  }

  test('message header follows PCD-01', () => {
    const msh = build(sampleRecord()).header;
    assert.equal(msh.getField(1).toString(), '|');
    assert.equal(msh.getField(2).toString(), '^~\\&');
    assert.equal(value(msh, 3), 'BV-EDGE');
    assert.equal(value(msh, 5), 'AIS');
    assert.equal(value(msh, 6), 'HOSPITAL');
    assert.equal(value(msh, 7), '20250314093000+0000');
    assert.deepEqual(
      [1, 2, 3].map((c) => value(msh, 9, c)),
      ['ORU', 'R01', 'ORU_R01'],
    );
    assert.equal(value(msh, 10), 'CTRL0001');
    assert.equal(value(msh, 11), 'P');
    assert.equal(value(msh, 12), '2.6');
    assert.equal(value(msh, 15), 'AL');
    assert.equal(value(msh, 16), 'NE');
    assert.equal(value(msh, 18), 'UNICODE UTF-8');
    assert.deepEqual(
      [1, 2, 3, 4].map((c) => value(msh, 21, c)),
      PCD01_PROFILE,
    );
    assert.equal(PCD01_PROFILE[2], '1.3.6.1.4.1.19376.1.6.1.1.1');
  });

  test('segments, PID and OBR', () => {
    const record = sampleRecord();
    const message = build(record);
    assert.deepEqual(segmentNames(message), [
      'MSH',
      'PID',
      'PV1',
      'OBR',
      ...Array(9).fill('OBX'),
      'NTE',
    ]);
    const pid = message.getSegment('PID')!;
    assert.equal(value(pid, 3, 1), MRN);
    assert.equal(value(pid, 3, 4), 'HOSP');
    assert.equal(value(pid, 3, 5), 'MR');
    assert.equal(value(message.getSegment('PV1')!, 3), 'OR-3');
    const obr = message.getSegment('OBR')!;
    assert.equal(value(obr, 3, 1), record.estimateId);
    assert.equal(value(obr, 4, 1), '99BVE-PANEL');
    assert.equal(value(obr, 7), '20250314092653+0000');
    assert.equal(value(obr, 25), 'F');
  });

  test('every OBX value and unit', () => {
    const message = build(sampleRecord());
    const rows = message.getAllSegments('OBX').map((obx) => ({
      setId: value(obx, 1),
      type: value(obx, 2),
      code: value(obx, 3, 1),
      system: value(obx, 3, 3),
      value: value(obx, 5),
      unit: value(obx, 6, 1),
      unitSystem: value(obx, 6, 3),
      status: value(obx, 11),
      equipment: value(obx, 18),
    }));
    const expected = [
      ['NM', '99BVE-BV', '3922', 'mL'],
      ['NM', '99BVE-BVKG', '67.6', 'mL/kg'],
      ['NM', '99BVE-BVLO', '3400', 'mL'],
      ['NM', '99BVE-BVHI', '4441', 'mL'],
      ['NM', '99BVE-NADLER', '3850', 'mL'],
      ['CWE', '99BVE-VIEWS', 'ijv', ''],
      ['ST', '99BVE-MODEL', `bv-model ${SPECIAL} 1.2.0`, ''],
      ['ST', '99BVE-USE', 'clinical', ''],
      ['CWE', '99BVE-OOP', 'Y', ''],
    ];
    assert.equal(rows.length, expected.length);
    expected.forEach(([type, code, obxValue, unit], index) => {
      const row = rows[index]!;
      assert.equal(row.setId, String(index + 1), `OBX-1 of ${code}`);
      assert.equal(row.type, type, `OBX-2 of ${code}`);
      assert.equal(row.code, code, `OBX-3 of ${code}`);
      assert.equal(row.system, '99BVE', `OBX-3.3 of ${code}`);
      assert.equal(row.value, obxValue, `OBX-5 of ${code}`);
      assert.equal(row.unit, unit, `OBX-6 of ${code}`);
      assert.equal(row.unitSystem, unit ? 'UCUM' : '', `OBX-6.3 of ${code}`);
      assert.equal(row.status, 'F', `OBX-11 of ${code}`);
      assert.equal(row.equipment, 'cart-1', `OBX-18 of ${code}`);
    });
    const views = message.getAllSegments('OBX')[5]!;
    assert.equal(value(views, 5, 1, 1), 'ivc');
    assert.equal(value(views, 5, 2, 1), 'Inferior vena cava');
    const note = message.getSegment('NTE')!;
    assert.equal(value(note, 3), 'Hb not entered & age > 80 ^ unknown');
  });

  test('free text is escaped on the wire', () => {
    const text = build(sampleRecord()).toString();
    assert.ok(
      text.includes('bv-model a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f 1.2.0'),
      'model name escaped',
    );
    assert.ok(text.includes('Hb not entered \\T\\ age > 80 \\S\\ unknown'), 'reason escaped');
    assert.equal(text.split('\r').length, 14, 'one line per segment, no stray CR');
  });

  test('research push adds NTE and OBX', () => {
    const record = sampleRecord({
      intendedUse: 'research',
      notice: 'Not for clinical use | research only',
    });
    const message = build(record, true);
    assert.deepEqual(segmentNames(message).slice(0, 6), ['MSH', 'PID', 'PV1', 'OBR', 'NTE', 'OBX']);
    const note = value(message.getSegment('NTE')!, 3);
    assert.match(note, /^Research use only/);
    assert.ok(note.includes('Not for clinical use | research only'), 'NTE carries the notice');
    const research = message.getAllSegments('OBX').at(-1)!;
    assert.equal(value(research, 3, 1), '99BVE-RESEARCH');
    assert.equal(value(research, 5, 1), 'Y');
  });

  test('configured codes replace the defaults', () => {
    const config = hl7Config(2575, {
      codes: { bloodVolume: { code: 'X-BV', text: 'Blood volume', system: 'L' } },
      pointOfCare: undefined,
    });
    const message = buildObservationMessage({
      record: sampleRecord(),
      controlId: 'C1',
      createdAt: new Date(),
      deviceName: 'cart-1',
      researchUse: false,
      settings: config,
    });
    const obx = message.getAllSegments('OBX')[0]!;
    assert.equal(value(obx, 3, 1), 'X-BV');
    assert.equal(value(obx, 3, 3), 'L');
    assert.equal(message.getSegment('PV1'), undefined);
  });
});

describe('MLLP framing and ACK parsing', () => {
  test('decoder joins chunks and splits frames', () => {
    const decoder = new MllpDecoder();
    const bytes = Buffer.concat([frameMllp('MSH|one'), frameMllp('MSH|two ü')]);
    assert.deepEqual(decoder.push(bytes.subarray(0, 5)), []);
    assert.deepEqual(decoder.push(bytes.subarray(5)), ['MSH|one', 'MSH|two ü']);
  });

  test('decoder rejects bytes outside a frame', () => {
    assert.throws(
      () => new MllpDecoder().push(Buffer.from('HTTP/1.1 400')),
      (error: unknown) => error instanceof MllpError && error.kind === 'invalid-reply',
    );
  });

  test('parseAck reads AA, AE and ERR text', () => {
    const aa = parseAck('MSH|^~\\&|A|B|C|D|20250101||ACK^R01^ACK|9|P|2.6\rMSA|AA|C1', 'C1');
    assert.deepEqual(aa, { code: 'AA', accepted: true, text: '' });
    const ae = parseAck(
      'MSH|^~\\&|A|B|C|D|20250101||ACK|9|P|2.6\rMSA|AE|C1|Bad\\T\\worse\r' +
        'ERR|||101^Required field missing^HL70357|E||||PID-3 empty',
      'C1',
    );
    assert.equal(ae.code, 'AE');
    assert.equal(ae.accepted, false);
    assert.equal(ae.text, 'Bad&worse; 101 Required field missing: PID-3 empty');
  });

  test('parseAck rejects replies to other messages', () => {
    const reply = 'MSH|^~\\&|A|B|C|D|20250101||ACK|9|P|2.6\rMSA|AA|OTHER';
    assert.throws(() => parseAck(reply, 'C1'), InvalidAckError);
    assert.throws(() => parseAck('not hl7', 'C1'), InvalidAckError);
    assert.throws(() => parseAck('MSH|^~\\&|A\rPID|1', 'C1'), InvalidAckError);
    assert.throws(() => parseAck('MSH|^~\\&|A\rMSA|XX|C1', 'C1'), InvalidAckError);
  });
});

describe('HL7 delivery', () => {
  test('AA delivers once and deletes the MRN', async (t) => {
    const listener = await startMllpListener();
    t.after(() => listener.stop());
    const config = hl7Config(listener.port, { mrnRetentionMinutes: 0.005 });
    const { service, store, lines } = await startService(config, t.after.bind(t));
    const record = sampleRecord();
    service.setMrn(record.caseId, MRN);
    const decision = service.pushClosedCase(record);
    assert.equal(decision.queued, true);
    await waitFor(() => outboxRow(store, record.estimateId).status === 'delivered', 'delivery');
    assert.equal(listener.received.length, 1);
    const sent = Hl7Message.parse(listener.received[0]!);
    assert.equal(value(sent.getSegment('PID')!, 3), MRN);
    assert.equal(value(sent.header, 10), decision.queued ? decision.controlId : '');
    assert.equal(service.status().state, 'delivered');
    assert.equal(outboxRow(store, record.estimateId).ackCode, 'AA');
    const delivery = service.caseDelivery(record);
    assert.equal(delivery.state, 'delivered');
    assert.equal(delivery.ackCode, 'AA');
    assert.equal(delivery.ackedAt, outboxRow(store, record.estimateId).ackedAt);
    assert.ok(!outboxRow(store, record.estimateId).message.includes(MRN), 'outbox keeps no MRN');

    // mrnRetentionMinutes 0.005 is 300 ms after the ACK.
    await waitFor(() => getMrn(store.db, record.caseId) === null, 'MRN deletion');
    const audit = store.db.select().from(auditLog).all();
    const deletion = audit.find((entry) => entry.action === 'hl7.mrn-delete');
    assert.ok(deletion, 'audit entry hl7.mrn-delete written');
    assert.deepEqual(deletion.after, {
      caseId: record.caseId,
      mrnStored: false,
      reason: 'retention-elapsed',
    });
    assert.ok(!JSON.stringify(audit).includes(MRN), 'audit log has no MRN');
    assert.ok(!lines.join('').includes(MRN), 'log has no MRN');
    assert.ok(
      lines.some((line) => line.includes('HL7 message delivered')),
      'delivery logged',
    );
  });

  for (const code of ['AE', 'AR'] as const) {
    test(`${code} is reported and not retried`, async (t) => {
      const errorText = `Unknown patient ${MRN} | check PID`;
      const listener = await startMllpListener({ reply: { kind: 'ack', code, errorText } });
      t.after(() => listener.stop());
      const { service, store, lines } = await startService(
        hl7Config(listener.port),
        t.after.bind(t),
      );
      const record = sampleRecord();
      service.setMrn(record.caseId, MRN);
      service.pushClosedCase(record);
      await waitFor(() => outboxRow(store, record.estimateId).status === 'rejected', 'rejection');

      // Ten retry delays of the configured 50 to 200 ms pass without another send.
      await delay(1000);
      assert.equal(listener.received.length, 1);
      const row = outboxRow(store, record.estimateId);
      assert.equal(row.ackCode, code);
      assert.equal(row.attempts, 1);
      // MSA-3 of @medplum/core's ACK, then ERR-3 and ERR-8, with the quoted MRN redacted.
      const text = code === 'AE' ? 'Application Error' : 'Application Reject';
      // Only the receiver's words are stored; the ack code has its own column.
      assert.equal(
        row.lastError,
        `${text}; 207 Application internal error: Unknown patient [MRN] | check PID`,
      );
      const status = service.status();
      assert.equal(status.state, 'rejected');
      assert.equal(status.pending, 0);
      assert.equal(status.lastError?.ackCode, code);
      assert.equal(status.lastError?.message, row.lastError);
      assert.equal(toHl7Summary(status).state, 'error');
      const delivery = service.caseDelivery(record);
      assert.equal(delivery.state, 'rejected');
      assert.equal(delivery.ackCode, code);
      assert.equal(delivery.error, row.lastError);
      assert.ok(!JSON.stringify(delivery).includes(MRN), 'case delivery has no MRN');

      assert.ok(!lines.join('').includes(MRN), 'log has no MRN');
      assert.ok(
        lines.some((line) => line.includes('"level":50') && line.includes('not sent again')),
        'rejection logged at error level',
      );
      assert.ok(
        lines.some((line) => line.includes(`rejected the HL7 message with ${code}`)),
        `log names the ${code}`,
      );
    });
  }

  test('listener down then up receives once', async (t) => {
    const port = await freePort();
    const { service, store, lines } = await startService(hl7Config(port), t.after.bind(t));
    const record = sampleRecord();
    service.setMrn(record.caseId, MRN);
    service.pushClosedCase(record);
    await waitFor(() => outboxRow(store, record.estimateId).attempts >= 2, 'two refused attempts');
    assert.equal(service.status().state, 'retrying');
    assert.match(outboxRow(store, record.estimateId).lastError ?? '', /refused/);
    assert.equal(service.caseDelivery(record).state, 'retrying');
    assert.match(service.caseDelivery(record).error ?? '', /refused/);
    assert.ok(
      lines.some((line) => line.includes('HL7 send failed; retrying')),
      'retry logged',
    );

    const listener = await startMllpListener({ port });
    t.after(() => listener.stop());
    await waitFor(() => outboxRow(store, record.estimateId).status === 'delivered', 'delivery');
    await delay(300);
    assert.equal(listener.received.length, 1);
    assert.equal(service.status().state, 'delivered');
  });

  const retried: [string, 'garbage' | 'framed-garbage' | 'silent', RegExp][] = [
    ['garbage reply', 'garbage', /outside an MLLP frame/],
    ['framed garbage reply', 'framed-garbage', /invalid acknowledgement/],
    ['silent listener', 'silent', /acknowledgement timed out after 300 ms/],
  ];
  for (const [name, kind, error] of retried) {
    test(`${name} is logged and retried`, async (t) => {
      const listener = await startMllpListener({ reply: { kind } });
      t.after(() => listener.stop());
      const { service, store, lines } = await startService(
        hl7Config(listener.port),
        t.after.bind(t),
      );
      const record = sampleRecord();
      service.setMrn(record.caseId, MRN);
      service.pushClosedCase(record);
      await waitFor(() => listener.received.length >= 2, 'a second send');
      const row = outboxRow(store, record.estimateId);
      assert.equal(row.status, 'pending');
      assert.match(row.lastError ?? '', error);
      assert.ok(
        lines.some((line) => line.includes('HL7 send failed; retrying') && error.test(line)),
        'failure logged with its reason',
      );
      assert.equal(listener.received[0], listener.received[1], 'the same message is sent again');

      listener.reply = { kind: 'ack', code: 'AA' };
      await waitFor(() => outboxRow(store, record.estimateId).status === 'delivered', 'delivery');
    });
  }

  test('messages are sent in order', async (t) => {
    const port = await freePort();
    const { service, store } = await startService(hl7Config(port), t.after.bind(t));
    const records = [sampleRecord(), sampleRecord(), sampleRecord()];
    for (const record of records) {
      service.setMrn(record.caseId, MRN);
      service.pushClosedCase(record);
    }
    await waitFor(() => outboxRow(store, records[0]!.estimateId).attempts >= 1, 'a failed attempt');
    assert.equal(service.caseDelivery(records[1]!).state, 'queued');
    assert.equal(service.caseDelivery(records[2]!).error, null);
    const listener = await startMllpListener({ port });
    t.after(() => listener.stop());
    await waitFor(() => listener.received.length === 3, 'three messages');
    const order = listener.received.map((text) =>
      value(Hl7Message.parse(text).getSegment('OBR')!, 3),
    );
    assert.deepEqual(
      order,
      records.map((record) => record.estimateId),
    );
  });

  test('pending message survives a restart', async (t) => {
    const port = await freePort();
    const path = join(tempDir, randomUUID(), 'bv-edge.sqlite');
    const record = sampleRecord();
    {
      const store = openTempStore(path);
      const service = new Hl7Service({
        store,
        config: hl7Config(port),
        deviceName: 'cart-1',
        logger: pino({ level: 'silent' }),
      });
      await service.start();
      service.setMrn(record.caseId, MRN);
      service.pushClosedCase(record);
      await waitFor(() => outboxRow(store, record.estimateId).attempts >= 1, 'a failed attempt');
      await service.stop();
      store.close();
    }
    const listener = await startMllpListener({ port });
    t.after(() => listener.stop());
    const { store } = await startService(hl7Config(port), t.after.bind(t), openTempStore(path));
    await waitFor(() => outboxRow(store, record.estimateId).status === 'delivered', 'delivery');
    assert.equal(listener.received.length, 1);
    assert.equal(value(Hl7Message.parse(listener.received[0]!).getSegment('PID')!, 3), MRN);
  });

  test('expired MRN is deleted at start', async (t) => {
    const path = join(tempDir, randomUUID(), 'bv-edge.sqlite');
    const listener = await startMllpListener();
    t.after(() => listener.stop());
    const record = sampleRecord();
    {
      const store = openTempStore(path);
      const service = new Hl7Service({
        store,
        config: hl7Config(listener.port, { mrnRetentionMinutes: 60 }),
        deviceName: 'cart-1',
        logger: pino({ level: 'silent' }),
      });
      await service.start();
      service.setMrn(record.caseId, MRN);
      service.pushClosedCase(record);
      await waitFor(() => outboxRow(store, record.estimateId).status === 'delivered', 'delivery');
      await service.stop();
      store.close();
    }

    const store = openTempStore(path);
    assert.equal(getMrn(store.db, record.caseId), MRN, 'kept for the 60 minutes');
    const later = new Date(Date.now() + 61 * 60_000);
    const service = new Hl7Service({
      store,
      config: hl7Config(listener.port, { mrnRetentionMinutes: 60 }),
      deviceName: 'cart-1',
      logger: pino({ level: 'silent' }),
      now: () => later,
    });
    t.after(async () => {
      await service.stop();
      store.close();
    });
    await service.start();
    assert.equal(getMrn(store.db, record.caseId), null);
  });

  test('abandoned case forgets the MRN', async (t) => {
    const { service, store } = await startService(hl7Config(await freePort()), t.after.bind(t));
    service.setMrn('case-abandoned-1', MRN);
    service.forgetCase('case-abandoned-1');
    assert.equal(getMrn(store.db, 'case-abandoned-1'), null);
    const entry = store.db.select().from(auditLog).all().at(-1);
    assert.equal(entry?.action, 'hl7.mrn-delete');
    assert.deepEqual(entry?.after, {
      caseId: 'case-abandoned-1',
      mrnStored: false,
      reason: 'case-abandoned',
    });
  });

  test('case without MRN is not pushed', async (t) => {
    const listener = await startMllpListener();
    t.after(() => listener.stop());
    const { service, store, lines } = await startService(hl7Config(listener.port), t.after.bind(t));
    const record = sampleRecord();
    assert.deepEqual(service.pushClosedCase(record), { queued: false, reason: 'no-mrn' });
    assert.equal(findHl7ByEstimate(store.db, record.estimateId), null);
    assert.equal(service.caseDelivery(record).state, 'not-queued');
    assert.ok(
      lines.some((line) => line.includes('no MRN was entered')),
      'reason logged',
    );
  });
});

describe('HL7 safety gate', () => {
  const manifest = parseManifest(
    JSON.parse(readFileSync(resolve(repoRoot, 'models/reference/manifest.json'), 'utf8')),
    'models/reference/manifest.json',
  );
  const referenceEstimate = {
    modelName: manifest.name,
    modelVersion: manifest.version,
    intendedUse: manifest.intendedUse,
    notice: manifest.notice,
  };

  test('reference bundle is not pushed by default', async (t) => {
    assert.notEqual(manifest.intendedUse, 'clinical', 'the reference bundle is not cleared');
    const listener = await startMllpListener();
    t.after(() => listener.stop());
    const { service, store, lines } = await startService(hl7Config(listener.port), t.after.bind(t));
    const record = sampleRecord(referenceEstimate);
    service.setMrn(record.caseId, MRN);
    assert.deepEqual(service.pushClosedCase(record), { queued: false, reason: 'not-cleared' });
    assert.deepEqual(service.pushClosedCase(record), { queued: false, reason: 'not-cleared' });
    await delay(300);
    assert.equal(listener.received.length, 0);
    assert.equal(findHl7ByEstimate(store.db, record.estimateId), null);
    assert.equal(getMrn(store.db, record.caseId), null, 'MRN deleted at once');
    const reasons = lines.filter((line) => line.includes('estimate not pushed to the AIS'));
    assert.ok(reasons.length >= 1, 'reason logged');
    assert.ok(reasons[0]!.includes(`"intendedUse":"${manifest.intendedUse}"`), 'names the use');
    assert.equal(service.status().state, 'idle');
    assert.equal(service.status().researchPushAllowed, false);
    assert.deepEqual(toHl7Summary(service.status()), {
      state: 'idle',
      detail: 'No estimate has been pushed yet.',
      researchPushAllowed: false,
    });
    assert.deepEqual(service.caseDelivery(record), {
      state: 'withheld',
      intendedUse: manifest.intendedUse,
      ackCode: null,
      error: null,
      ackedAt: null,
    });
  });

  test('allowResearchPush sends it marked', async (t) => {
    const listener = await startMllpListener();
    t.after(() => listener.stop());
    const { service, store } = await startService(
      hl7Config(listener.port, { allowResearchPush: true }),
      t.after.bind(t),
    );
    const record = sampleRecord(referenceEstimate);
    service.setMrn(record.caseId, MRN);
    assert.equal(service.pushClosedCase(record).queued, true);
    assert.deepEqual(service.pushClosedCase(record), { queued: false, reason: 'already-queued' });
    await waitFor(() => outboxRow(store, record.estimateId).status === 'delivered', 'delivery');
    assert.equal(service.status().researchPushAllowed, true);
    assert.equal(service.caseDelivery(record).state, 'delivered');
    const sent = Hl7Message.parse(listener.received[0]!);
    const note = sent.segments[segmentNames(sent).indexOf('OBR') + 1]!;
    assert.equal(note.name, 'NTE');
    assert.ok(value(note, 3).includes(manifest.notice), 'NTE carries the bundle notice');
    const research = sent.getAllSegments('OBX').find((obx) => value(obx, 3) === '99BVE-RESEARCH');
    assert.ok(research, 'research-use OBX present');
    assert.equal(value(research, 5), 'Y');
    const use = sent.getAllSegments('OBX').find((obx) => value(obx, 3) === '99BVE-USE');
    assert.equal(use && value(use, 5), manifest.intendedUse);
  });
});

describe('HL7 API', () => {
  async function api(t: { after: (fn: () => Promise<void> | void) => void }, openCase = 'case-1') {
    const { service, store } = await startService(hl7Config(await freePort()), t.after);
    const app = createHl7Api({
      service,
      isCaseOpen: (caseId) => caseId === openCase,
      logger: pino({ level: 'silent' }),
    });
    const put = (caseId: string, body: string, type = 'application/json') =>
      app.request(`/cases/${caseId}/mrn`, {
        method: 'PUT',
        headers: { 'content-type': type },
        body,
      });
    return { app, put, store };
  }

  test('PUT stores the MRN', async (t) => {
    const { put, store } = await api({ after: t.after.bind(t) });
    const response = await put('case-1', JSON.stringify({ mrn: ` ${MRN} ` }));
    assert.equal(response.status, 200);
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.caseId, 'case-1');
    assert.equal(body.stored, true);
    assert.ok(!JSON.stringify(body).includes(MRN), 'reply does not repeat the MRN');
    assert.equal(getMrn(store.db, 'case-1'), MRN);
  });

  const badBodies: [string, string, string][] = [
    ['missing mrn', '{}', 'mrn'],
    ['empty mrn', '{"mrn":""}', 'mrn'],
    ['number mrn', '{"mrn":417}', 'mrn'],
    ['mrn with a delimiter', '{"mrn":"12|34"}', 'mrn'],
    ['mrn too long', `{"mrn":"${'1'.repeat(21)}"}`, 'mrn'],
    ['unknown key', `{"mrn":"${MRN}","name":"Jane"}`, 'name'],
  ];
  for (const [name, body, field] of badBodies) {
    test(`PUT rejects ${name}`, async (t) => {
      const { put, store } = await api({ after: t.after.bind(t) });
      const response = await put('case-1', body);
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      const problem = (await response.json()) as {
        status: number;
        detail: string;
        errors: { field: string }[];
      };
      assert.equal(problem.status, 400);
      assert.deepEqual(
        problem.errors.map((error) => error.field),
        [field],
      );
      assert.ok(!problem.detail.includes('12|34'), 'detail does not repeat the value');
      assert.equal(getMrn(store.db, 'case-1'), null);
    });
  }

  test('PUT rejects bad case ids', async (t) => {
    const { put } = await api({ after: t.after.bind(t) });
    const invalid = await put('bad%20id', JSON.stringify({ mrn: MRN }));
    assert.equal(invalid.status, 400);
    const problem = (await invalid.json()) as {
      notice?: Notice;
      errors: { field: string; notice?: Notice }[];
    };
    assert.equal(problem.errors[0]?.field, 'caseId');
    assert.equal(problem.notice?.key, 'notice.hl7.invalidCaseId');
    assert.equal(problem.errors[0]?.notice?.key, 'notice.hl7.field.caseId');
    const notOpen = await put('case-2', JSON.stringify({ mrn: MRN }));
    assert.equal(notOpen.status, 409);
    const conflict = (await notOpen.json()) as { code: string; notice?: Notice };
    assert.equal(conflict.code, 'case_not_open');
    assert.equal(conflict.notice?.key, 'notice.hl7.caseNotOpen');
    assert.deepEqual(conflict.notice?.params, { caseId: 'case-2' });
    const text = await put('case-1', 'mrn=1', 'application/x-www-form-urlencoded');
    assert.equal(text.status, 400);
  });

  test('GET status', async (t) => {
    const { app } = await api({ after: t.after.bind(t) });
    const response = await app.request('/status');
    assert.equal(response.status, 200);
    const status = (await response.json()) as Record<string, unknown>;
    assert.equal(status.state, 'idle');
    assert.equal(status.pending, 0);
    assert.equal(status.lastError, null);
  });
});

describe('HL7 config', () => {
  function configProblem(hl7: Record<string, unknown>): string {
    try {
      loadConfig({ hl7 } as never, { env: {} });
    } catch (error) {
      assert.ok(error instanceof BvEdgeError, 'a BvEdgeError');
      return error.message;
    }
    return assert.fail('config was accepted');
  }

  test('disabled by default', () => {
    const config = loadConfig({}, { env: {} });
    assert.equal(config.hl7.enabled, false);
    assert.equal(config.hl7.allowResearchPush, false);
    assert.equal(config.hl7.codes.bloodVolume.code, '99BVE-BV');
  });

  test('enabled without host and port', () => {
    const message = configProblem({ enabled: true });
    assert.match(message, /hl7\.host/);
    assert.match(message, /hl7\.port/);
  });

  test('invalid values name the key', () => {
    assert.match(configProblem({ port: 70000 }), /hl7\.port/);
    assert.match(configProblem({ codes: { nadler: { code: '' } } }), /hl7\.codes\.nadler\.code/);
    assert.match(
      configProblem({ retry: { initialDelayMs: 500, maxDelayMs: 100 } }),
      /hl7\.retry\.maxDelayMs/,
    );
    assert.match(configProblem({ tls: { certFile: '/x.pem' } }), /hl7\.tls\.keyFile/);
    assert.match(configProblem({ processingId: 'X' }), /hl7\.processingId/);
  });
});

const opensslSkip = existsSync('/usr/bin/openssl')
  ? false
  : 'openssl not found at /usr/bin/openssl';

describe('HL7 over TLS', { skip: opensslSkip }, () => {
  test('delivers with a CA file', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bv-edge-hl7-tls-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      '/usr/bin/openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );

    const listener = await startMllpListener({
      tls: { key: readFileSync(key), cert: readFileSync(cert) },
    });
    t.after(() => listener.stop());
    const tls = { enabled: true, caFile: cert, serverName: 'localhost' };
    const { service, store } = await startService(
      hl7Config(listener.port, { tls }),
      t.after.bind(t),
    );
    const record = sampleRecord();
    service.setMrn(record.caseId, MRN);
    service.pushClosedCase(record);
    await waitFor(() => outboxRow(store, record.estimateId).status === 'delivered', 'delivery');
    assert.equal(listener.received.length, 1);
  });

  test('untrusted certificate is retried', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bv-edge-hl7-tls-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      '/usr/bin/openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );

    const listener = await startMllpListener({
      tls: { key: readFileSync(key), cert: readFileSync(cert) },
    });
    t.after(() => listener.stop());
    const { service, store } = await startService(
      hl7Config(listener.port, { tls: { enabled: true, serverName: 'localhost' } }),
      t.after.bind(t),
    );

    const record = sampleRecord();
    service.setMrn(record.caseId, MRN);
    service.pushClosedCase(record);
    await waitFor(() => outboxRow(store, record.estimateId).attempts >= 1, 'a failed attempt');
    assert.equal(outboxRow(store, record.estimateId).status, 'pending');
    assert.match(outboxRow(store, record.estimateId).lastError ?? '', /TLS/);
    assert.equal(listener.received.length, 0);
  });

  test('unreadable CA file fails start', async () => {
    const store = openTempStore();
    const service = new Hl7Service({
      store,
      config: hl7Config(2575, { tls: { enabled: true, caFile: join(tempDir, 'missing.pem') } }),
      deviceName: 'cart-1',
      logger: pino({ level: 'silent' }),
    });
    await assert.rejects(
      service.start(),
      /hl7\.tls\.caFile: cannot read .*missing\.pem \(ENOENT\)/,
    );
    await service.stop();
    store.close();
  });
});

describe('HL7 in the daemon', () => {
  /** Long enough for the reference model's window of 32 frames at 10 Hz. */
  const RECORD_SECONDS = 3.5;
  const TOKEN = 'hl7-test-token';

  async function call(
    base: string,
    path: string,
    init: { method?: string; body?: unknown; token?: string | null } = {},
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const token = init.token === undefined ? TOKEN : init.token;
    const response = await fetch(new URL(path, base), {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        'content-type': 'application/json',
        ...(token !== null && { authorization: `Bearer ${token}` }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await response.text();
    return {
      status: response.status,
      json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  }

  async function ok(base: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const { status, json } = await call(base, path, { body });
    assert.ok(status < 300, `${path}: HTTP ${status} ${JSON.stringify(json)}`);
    return json;
  }

  function storedMrns(dataDir: string): unknown[] {
    const db = new Database(join(dataDir, 'bv-edge.sqlite'), { readonly: true });
    try {
      return db.prepare('SELECT case_id FROM hl7_mrns').all();
    } finally {
      db.close();
    }
  }

  test('closed case is pushed with its MRN', async (t) => {
    const listener = await startMllpListener();
    t.after(() => listener.stop());
    const dataDir = await mkdtemp(join(tmpdir(), 'bv-edge-hl7-daemon-'));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    const config = loadConfig(
      {
        dataDir,
        providers: ['cpu'],
        mqtt: { url: 'mqtt://127.0.0.1:9' },
        // The carotid clip, because the ca view must pulse. The vein views pass on it too.
        capture: { source: { kind: 'phantom', view: 'ca' } },
        hl7: {
          enabled: true,
          host: '127.0.0.1',
          port: listener.port,
          allowResearchPush: true,
          retry: { initialDelayMs: 50, maxDelayMs: 200 },
        },
      },
      { env: {} },
    );
    const logger = pino({ level: 'silent' });
    const capture = new CaptureService({ capture: config.capture, dataDir, logger });
    await capture.start();
    const daemon = new Daemon({
      config,
      workflow: workflowSettings(config),
      http: { host: '127.0.0.1', port: 0, token: new Secret(TOKEN) },
      frameSource: capture,
      stopFrameSource: () => capture.stop(),
      logger,
    });
    t.after(async () => {
      assert.equal(await daemon.stop(), true);
      await capture.stop();
    });
    await daemon.start();
    const base = daemon.url!;
    const mrnPath = (caseId: string) => `api/hl7/cases/${caseId}/mrn`;

    const anonymous = await call(base, mrnPath('abandon-1'), {
      method: 'PUT',
      body: { mrn: MRN },
      token: null,
    });
    assert.equal(anonymous.status, 401);
    const early = await call(base, mrnPath('abandon-1'), { method: 'PUT', body: { mrn: MRN } });
    assert.equal(early.status, 409);

    await ok(base, 'api/workflow/case', {
      caseId: 'abandon-1',
      heightCm: 170,
      weightKg: 70,
      sex: 'male',
    });
    const stored = await call(base, mrnPath('abandon-1'), { method: 'PUT', body: { mrn: MRN } });
    assert.equal(stored.status, 200);
    assert.equal(storedMrns(dataDir).length, 1);
    await ok(base, 'api/workflow/abandon', {});
    assert.equal(storedMrns(dataDir).length, 0, 'abandoning the case deletes its MRN');

    await ok(base, 'api/workflow/case', {
      caseId: 'live-2',
      heightCm: 165,
      weightKg: 62,
      sex: 'female',
    });
    const put = await call(base, mrnPath('live-2'), { method: 'PUT', body: { mrn: MRN } });
    assert.equal(put.status, 200);
    for (const view of VIEW_NAMES) {
      await ok(base, 'api/workflow/recording', { view, durationS: RECORD_SECONDS });
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { case: snapshot } = (await ok(base, 'api/workflow')) as { case: CaseSnapshot };
        if (snapshot.step === 'review') break;
        if (Date.now() > deadline) assert.fail(`${view} did not reach review within 60 s`);
        await delay(200);
      }
      await ok(base, 'api/workflow/accept', {});
    }
    await ok(base, 'api/workflow/close', {});

    await waitFor(() => listener.received.length === 1, 'the pushed message', 10_000);
    const sent = Hl7Message.parse(listener.received[0]!);
    assert.equal(value(sent.getSegment('PID')!, 3), MRN);
    assert.equal(value(sent.getAllSegments('OBX').at(-1)!, 3), '99BVE-RESEARCH');
    // The listener records the message before it replies, so poll until the ACK is stored.
    let hl7Status: Record<string, unknown> = {};
    for (let i = 0; i < 100 && hl7Status.state !== 'delivered'; i++) {
      hl7Status = (await call(base, 'api/hl7/status')).json;
      await delay(50);
    }
    assert.equal(hl7Status.state, 'delivered');
    assert.equal(hl7Status.pending, 0);
    const status = (await call(base, 'api/status')).json as { hl7: { state: string } };
    assert.equal(status.hl7.state, 'connected');
  });
});
