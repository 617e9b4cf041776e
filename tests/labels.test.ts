import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { connectAsync } from 'mqtt';

import { OUT_OF_POPULATION_FLAG, type AnhRecord } from '../src/clinical/index.ts';
import { BvEdgeError } from '../src/core/errors.ts';
import type { Notice } from '../src/core/notice.ts';
import { silentLogger } from '../src/core/log.ts';
import { estimateMessage } from '../src/mqtt/payload.ts';
import { notice } from '../src/notices/index.ts';
import { defaultTopicBase, trainingTopic } from '../src/mqtt/topics.ts';
import type { TrainingRecordMessage } from '../src/mqtt/training.ts';
import { formatScanReport } from '../src/scan/report.ts';
import { checkScanPopulation } from '../src/scan/scan.ts';
import type { ScanRecord } from '../src/scan/types.ts';
import { listAudit } from '../src/store/audit.ts';
import { openDatabase, type Store } from '../src/store/db.ts';
import { enterLabel, getLabels, type LabelEntry } from '../src/store/labels.ts';
import { peek } from '../src/store/outbox.ts';
import { getCase, saveScan } from '../src/store/scans.ts';
import { runCommand } from './helpers/command.ts';
import { repoRoot } from './helpers/data.ts';
import { mosquittoSkipReason, startMosquitto } from './helpers/mosquitto.ts';
import { measuredView } from './helpers/view-result.ts';

const logger = silentLogger();
const TOPIC_BASE = defaultTopicBase('test-site', 'cart-1');
const OPTIONS = { topicBase: TOPIC_BASE, now: new Date('2025-03-14T11:02:00.000Z') };
/** Hb 13 → 10 g/dL after 1000 mL: 4333 mL single-step, 3811 mL continuous exchange. */
const ANH: AnhRecord = {
  hbBefore: 13,
  hbAfter: 10,
  hbUnit: 'g/dL',
  withdrawnMl: 1000,
  replacementFluid: "Ringer's lactate",
  replacementVolumeMl: 1000,
  equilibrationMinutes: 20,
};
const SINGLE_STEP_ML = (1000 * 13) / 3;
const CONTINUOUS_ML = 1000 / Math.log(13 / 10);
let tempDir = '';

before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'bv-edge-labels-'));
});

after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

function openTempStore(): Store {
  return openDatabase(join(tempDir, randomUUID(), 'bv-edge.sqlite'), logger);
}

/** Builds a scan record. 175 cm and 70 kg is BMI 22.9, inside the study population. */
function scanRecord(caseId: string, weightKg = 70): ScanRecord {
  return {
    caseId,
    estimateId: randomUUID(),
    createdAt: '2025-03-14T08:40:00.000Z',
    covariates: { heightCm: 175, weightKg, sex: 'male', ageYears: 52 },
    views: [measuredView('ivc', { areaSeriesMm2: [210.1, Number.NaN, 209.4] })],
    estimate: {
      bvMl: 4900,
      bvMlPerKg: 4900 / weightKg,
      lowerMl: 4300,
      upperMl: 5500,
      nadlerMl: 4824,
      modelName: 'bv-reference',
      modelVersion: '0.1.0',
      intendedUse: 'research and engineering tests',
      notice: 'Reference model, not for clinical use.',
      executionProvider: 'cpu',
      population: checkScanPopulation({ heightCm: 175, weightKg, sex: 'male', ageYears: 52 }),
    },
  };
}

function storeWithCase(caseId: string, weightKg = 70): Store {
  const store = openTempStore();
  saveScan(store, scanRecord(caseId, weightKg), []);
  return store;
}

function entry(caseId: string, record: AnhRecord = ANH, method?: string): LabelEntry {
  const value: LabelEntry = { caseId, record, enteredBy: 'coordinator-7' };
  if (method !== undefined) value.method = method;
  return value;
}

/** Serializes every row a label entry can write, to compare before and after a rejection. */
function dump(store: Store): string {
  const tables = ['cases', 'estimates', 'anh_labels', 'audit_log', 'outbox'];
  return JSON.stringify(
    tables.map((table) => store.sqlite.prepare(`select * from ${table} order by 1`).all()),
  );
}

function trainingPayloads(store: Store): TrainingRecordMessage[] {
  return peek(store.db, 100)
    .filter((row) => row.topic === trainingTopic(TOPIC_BASE))
    .map((row) => JSON.parse(row.payload) as TrainingRecordMessage);
}

function assertNear(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual}, expected ${expected}`);
}

describe('enterLabel', () => {
  test('stores label, audit and record', () => {
    const store = storeWithCase('case-roundtrip');
    try {
      const result = enterLabel(store, entry('case-roundtrip', ANH, 'single-step'), OPTIONS);
      assert.equal(result.labels.length, 1);
      const [stored] = getLabels(store.db, 'case-roundtrip');
      assert.ok(stored, 'label row missing');
      assert.deepEqual(stored, result.labels[0]);
      assert.equal(stored.method, 'single-step');
      assertNear(stored.bvMl, SINGLE_STEP_ML, 'bvMl');
      assert.equal(Math.round(stored.bvMl), 4333);
      assert.equal(stored.inputsCanonical.hbBeforeGdl, 13);
      assert.equal(stored.inputsCanonical.hbUnitEntered, 'g/dL');
      assert.equal(stored.inputsCanonical.replacementFluid, "Ringer's lactate");
      assert.deepEqual(stored.warnings, []);
      assert.equal(stored.enteredBy, 'coordinator-7');
      assert.equal(stored.enteredAt, '2025-03-14T11:02:00.000Z');
      assert.equal(stored.revision, 1);

      const audit = listAudit(store.db, 'case-roundtrip');
      assert.equal(audit.length, 1);
      assert.equal(audit[0]?.action, 'label.create');
      assert.equal(audit[0]?.actor, 'coordinator-7');
      assert.equal(audit[0]?.at, '2025-03-14T11:02:00.000Z');
      assert.equal(audit[0]?.before, null);
      assert.deepEqual(audit[0]?.after, stored);

      const queued = peek(store.db, 10);
      assert.equal(queued.length, 1);
      assert.equal(queued[0]?.topic, 'bv-edge/v1/test-site/cart-1/training');
      assert.equal(queued[0]?.messageId, result.messageIds[0]);
    } finally {
      store.close();
    }
  });

  test('stores every method by default', () => {
    const store = storeWithCase('case-all');
    try {
      enterLabel(store, entry('case-all'), OPTIONS);
      const labels = getLabels(store.db, 'case-all');
      const byMethod = new Map(labels.map((label) => [label.method, label.bvMl]));
      assert.deepEqual([...byMethod.keys()].sort(), ['continuous-exchange', 'single-step']);
      assert.equal(Math.round(byMethod.get('single-step') ?? 0), 4333);
      assert.equal(Math.round(byMethod.get('continuous-exchange') ?? 0), 3811);
      assertNear(byMethod.get('continuous-exchange') ?? 0, CONTINUOUS_ML, 'continuous');
      const methods = trainingPayloads(store).map((payload) => payload.label.method);
      assert.deepEqual(methods.sort(), ['continuous-exchange', 'single-step']);
    } finally {
      store.close();
    }
  });

  test('same label from every Hb unit', () => {
    const records: AnhRecord[] = [
      { ...ANH, hbBefore: 130, hbAfter: 100, hbUnit: 'g/L' },
      { ...ANH, hbBefore: 13 * 0.6206, hbAfter: 10 * 0.6206, hbUnit: 'mmol/L' },
    ];
    for (const record of records) {
      const store = storeWithCase('case-units');
      try {
        enterLabel(store, entry('case-units', record, 'continuous-exchange'), OPTIONS);
        const [label] = getLabels(store.db, 'case-units');
        assert.ok(label, `no label for ${record.hbUnit}`);
        assert.equal(Math.round(label.bvMl), 3811, `label from ${record.hbUnit}`);
        assertNear(label.inputsCanonical.hbBeforeGdl, 13, `hbBefore from ${record.hbUnit}`);
        assert.equal(label.inputsCanonical.hbUnitEntered, record.hbUnit);
      } finally {
        store.close();
      }
    }
  });

  test('edit keeps history in audit', () => {
    const store = storeWithCase('case-edit');
    try {
      const first = enterLabel(store, entry('case-edit', ANH, 'single-step'), OPTIONS);
      const corrected: LabelEntry = {
        ...entry('case-edit', { ...ANH, hbAfter: 9 }, 'single-step'),
        enteredBy: 'coordinator-9',
      };
      const later = { ...OPTIONS, now: new Date('2025-03-14T12:30:00.000Z') };
      const second = enterLabel(store, corrected, later);

      const labels = getLabels(store.db, 'case-edit');
      assert.equal(labels.length, 1);
      assert.equal(labels[0]?.revision, 2);
      assert.equal(labels[0]?.labelId, first.labels[0]?.labelId);
      assertNear(labels[0]?.bvMl ?? 0, (1000 * 13) / 4, 'edited bvMl');
      assert.equal(labels[0]?.enteredBy, 'coordinator-9');

      const audit = listAudit(store.db, 'case-edit');
      assert.deepEqual(
        audit.map((item) => item.action),
        ['label.create', 'label.update'],
      );
      assert.deepEqual(audit[1]?.before, first.labels[0]);
      assert.deepEqual(audit[1]?.after, second.labels[0]);
      assert.equal(audit[1]?.actor, 'coordinator-9');
      assert.equal(audit[1]?.at, '2025-03-14T12:30:00.000Z');

      const revisions = trainingPayloads(store).map((payload) => payload.label.revision);
      assert.deepEqual(revisions, [1, 2]);
    } finally {
      store.close();
    }
  });

  test('Hb unit slip warns', () => {
    const cases = [
      {
        hbBefore: 13,
        hbAfter: 10,
        hbUnit: 'mmol/L',
        expected:
          /hbBefore 13 mmol\/L \(20\.9 g\/dL\) is above 12 mmol\/L and looks like a value in g\/dL/,
      },
      {
        hbBefore: 19,
        hbAfter: 15,
        hbUnit: 'g/dL',
        expected: /^hbBefore 19 g\/dL is above 18 g\/dL, which is rare/,
      },
      {
        hbBefore: 190,
        hbAfter: 150,
        hbUnit: 'g/L',
        expected: /^hbBefore 190 g\/L \(19 g\/dL\) is above 18 g\/dL/,
      },
    ];
    for (const item of cases) {
      const store = storeWithCase('case-hb-unit');
      try {
        const record = {
          ...ANH,
          hbBefore: item.hbBefore,
          hbAfter: item.hbAfter,
          hbUnit: item.hbUnit,
        };
        const [label] = enterLabel(
          store,
          entry('case-hb-unit', record, 'single-step'),
          OPTIONS,
        ).labels;
        assert.ok(label, `no label for ${item.hbUnit}`);
        const texts = label.warnings.map((warning) => warning.text);
        const hbWarnings = texts.filter((text) => text.startsWith('hb'));
        assert.ok(
          hbWarnings.some((text) => item.expected.test(text)),
          `${item.hbBefore} ${item.hbUnit} warnings: ${texts.join(' | ')}`,
        );
        const [stored] = getLabels(store.db, 'case-hb-unit');
        assert.deepEqual(stored?.warnings, label.warnings, 'stored warnings differ');
      } finally {
        store.close();
      }
    }

    const store = storeWithCase('case-hb-typical');
    try {
      const [label] = enterLabel(
        store,
        entry('case-hb-typical', ANH, 'single-step'),
        OPTIONS,
      ).labels;
      const hbWarnings = label?.warnings.filter((warning) => warning.text.startsWith('hb'));
      assert.deepEqual(hbWarnings, [], 'a typical Hb in g/dL warns');
    } finally {
      store.close();
    }
  });

  test('large BV change between revisions warns', () => {
    const store = storeWithCase('case-bv-jump');
    try {
      enterLabel(store, entry('case-bv-jump', ANH, 'single-step'), OPTIONS);
      // 13 → 10.2 g/dL is 4643 mL against 4333 mL: a 7 % correction passes without a warning.
      const small = enterLabel(
        store,
        entry('case-bv-jump', { ...ANH, hbAfter: 10.2 }, 'single-step'),
        OPTIONS,
      );
      const revisionWarning = (warnings: readonly Notice[] | undefined) =>
        (warnings ?? []).filter((warning) => warning.key === 'notice.label.revisionChange');
      const revisionText = (warnings: readonly string[] | undefined) =>
        (warnings ?? []).filter((warning) => warning.startsWith('BV '));
      assert.deepEqual(revisionWarning(small.labels[0]?.warnings), []);

      const large = enterLabel(
        store,
        entry('case-bv-jump', { ...ANH, hbAfter: 9 }, 'single-step'),
        OPTIONS,
      );
      const expected = {
        key: 'notice.label.revisionChange',
        params: { value: 3250, percent: 30, direction: 'below', previous: 4643, revision: 2 },
        text:
          'BV 3250 mL is 30 % below the 4643 mL of revision 2. Check the values and the Hb ' +
          'unit against the anaesthesia record.',
      };
      assert.deepEqual(revisionWarning(large.labels[0]?.warnings), [expected]);
      const [stored] = getLabels(store.db, 'case-bv-jump');
      assert.equal(stored?.revision, 3);
      assert.deepEqual(
        revisionWarning(stored?.warnings),
        revisionWarning(large.labels[0]?.warnings),
      );
      const [, , payload] = trainingPayloads(store);
      assert.deepEqual(revisionText(payload?.label.warnings), [expected.text]);
    } finally {
      store.close();
    }
  });

  test('unknown case error hides the database path', () => {
    const store = storeWithCase('case-known');
    try {
      assert.throws(
        () => enterLabel(store, entry('case-missing', ANH, 'single-step'), OPTIONS),
        (error: unknown) => {
          assert.ok(error instanceof BvEdgeError, `not a BvEdgeError: ${String(error)}`);
          assert.equal(error.code, 'case_unknown');
          assert.ok(!error.message.includes(store.path), `path in: ${error.message}`);
          assert.ok(!error.message.includes('.sqlite'), `file name in: ${error.message}`);
          return true;
        },
      );
    } finally {
      store.close();
    }
  });

  test('site settings reach the label', () => {
    const store = storeWithCase('case-site');
    try {
      const record: AnhRecord = { ...ANH, withdrawnMl: undefined, bags: [{ volumeMl: 550 }] };
      delete record.withdrawnMl;
      const options = { ...OPTIONS, anticoagulantMlPerBag: 50, minEquilibrationMinutes: 30 };
      enterLabel(store, entry('case-site', record, 'single-step'), options);
      const [label] = getLabels(store.db, 'case-site');
      assert.ok(label, 'label row missing');
      assert.equal(label.inputsCanonical.anticoagulantMlPerBag, 50);
      assert.equal(label.inputsCanonical.withdrawnNetMl, 500);
      const texts = label.warnings.map((warning) => warning.text);
      assert.ok(
        texts.some((text) => text.includes('site minimum of 30 min')),
        `warnings: ${texts.join(' | ')}`,
      );
    } finally {
      store.close();
    }
  });
});

describe('enterLabel rejections', () => {
  const cases: {
    name: string;
    entry: LabelEntry;
    code: string;
    parts: string[];
    noticeKey: string;
  }[] = [
    {
      name: 'Hb after not below before',
      entry: entry('case-reject', { ...ANH, hbAfter: 13 }),
      code: 'anh_record_invalid',
      parts: ['hbAfter', '13 g/dL', 'less than hbBefore'],
      noticeKey: 'notice.anh.hbNotLower',
    },
    {
      name: 'Hb below 3 g/dL',
      entry: entry('case-reject', { ...ANH, hbAfter: 2.5 }),
      code: 'anh_record_invalid',
      parts: ['hbAfter', '2.5', '3–25 g/dL'],
      noticeKey: 'notice.anh.outside',
    },
    {
      name: 'Hb above 25 g/L range',
      entry: entry('case-reject', { ...ANH, hbBefore: 260, hbAfter: 100, hbUnit: 'g/L' }),
      code: 'anh_record_invalid',
      parts: ['hbBefore', '260 g/L', '30–250 g/L'],
      noticeKey: 'notice.anh.hbOutsideConverted',
    },
    {
      name: 'withdrawn volume zero',
      entry: entry('case-reject', { ...ANH, withdrawnMl: 0 }),
      code: 'anh_record_invalid',
      parts: ['withdrawnMl', '0 mL', 'more than 0 and at most 3000 mL'],
      noticeKey: 'notice.anh.outsideExclusive',
    },
    {
      name: 'withdrawn volume negative',
      entry: entry('case-reject', { ...ANH, withdrawnMl: -200 }),
      code: 'anh_record_invalid',
      parts: ['withdrawnMl', '-200 mL', '3000 mL'],
      noticeKey: 'notice.anh.outsideExclusive',
    },
    {
      name: 'withdrawn volume above 3000 mL',
      entry: entry('case-reject', { ...ANH, withdrawnMl: 3001 }),
      code: 'anh_record_invalid',
      parts: ['withdrawnMl', '3001 mL', '3000 mL'],
      noticeKey: 'notice.anh.outsideExclusive',
    },
    {
      name: 'unknown Hb unit',
      entry: entry('case-reject', { ...ANH, hbUnit: 'mg/dL' }),
      code: 'anh_record_invalid',
      parts: ['hbUnit', 'mg/dL', 'g/dL, g/L, mmol/L'],
      noticeKey: 'notice.anh.unitInvalid',
    },
    {
      name: 'unknown method',
      entry: entry('case-reject', ANH, 'dilution'),
      code: 'anh_method_unknown',
      parts: ['dilution', 'single-step, continuous-exchange, bag-hemoglobin'],
      noticeKey: 'notice.anh.methodUnknown',
    },
    {
      name: 'bag method without bags',
      entry: entry('case-reject', ANH, 'bag-hemoglobin'),
      code: 'anh_record_invalid',
      parts: ['bags', 'bag-hemoglobin'],
      noticeKey: 'notice.anh.bagsRequired',
    },
    {
      name: 'unknown case id',
      entry: entry('case-nobody'),
      code: 'case_unknown',
      parts: ['case-nobody', 'scan the patient first'],
      noticeKey: 'notice.label.caseUnknown',
    },
    {
      name: 'empty enteredBy',
      entry: { ...entry('case-reject'), enteredBy: '  ' },
      code: 'label_entry_invalid',
      parts: ['enteredBy', '1–100 printable characters'],
      noticeKey: 'notice.label.enteredByInvalid',
    },
  ];

  for (const item of cases) {
    test(`rejects ${item.name}`, () => {
      const store = storeWithCase('case-reject');
      try {
        // A stored label makes an edit of it the rejected write, not only a first insert.
        enterLabel(store, entry('case-reject', ANH, 'single-step'), OPTIONS);
        const before = dump(store);
        assert.throws(
          () => enterLabel(store, item.entry, OPTIONS),
          (error: unknown) => {
            assert.ok(error instanceof BvEdgeError, `not a BvEdgeError: ${String(error)}`);
            assert.equal(error.code, item.code);
            for (const part of item.parts) {
              assert.ok(error.message.includes(part), `"${part}" not in: ${error.message}`);
            }
            assert.equal(error.notice?.key, item.noticeKey);
            assert.equal(error.notice?.text, error.message);
            return true;
          },
        );
        assert.equal(dump(store), before, 'the database changed');
      } finally {
        store.close();
      }
    });
  }

  test('rejects invalid topic base', () => {
    const store = storeWithCase('case-topic');
    try {
      const before = dump(store);
      assert.throws(
        () => enterLabel(store, entry('case-topic'), { topicBase: 'no-slash' }),
        (error: unknown) => error instanceof BvEdgeError && error.code === 'INVALID_MQTT_TOPIC',
      );
      assert.equal(dump(store), before, 'the database changed');
    } finally {
      store.close();
    }
  });
});

describe('population flag', () => {
  test('scan check flags missing Hb', () => {
    const flag = checkScanPopulation({ heightCm: 175, weightKg: 70, sex: 'male', ageYears: 52 });
    assert.equal(flag.inPopulation, false);
    assert.deepEqual(flag.reasons, [notice('notice.population.hbMissing', { min: 10 })]);
    assert.equal(flag.reasons[0]?.text, 'preoperative Hb not entered; cannot confirm ≥ 10 g/dL');
    const withHb = checkScanPopulation(
      { heightCm: 175, weightKg: 70, sex: 'male', ageYears: 52 },
      12.5,
    );
    assert.deepEqual(withHb, { inPopulation: true, reasons: [] });
  });

  test('estimate stores and carries flag', () => {
    const store = openTempStore();
    try {
      const record = scanRecord('case-obese', 98);
      record.hbPreopGdl = 12.5;
      record.estimate.population = checkScanPopulation(record.covariates, record.hbPreopGdl);
      assert.equal(record.estimate.population.inPopulation, false);
      saveScan(store, record, [{ topic: 'bv-edge/t/estimates', payload: estimateMessage(record) }]);

      const stored = getCase(store, 'case-obese');
      assert.ok(stored, 'case not stored');
      assert.equal(stored.hbPreopGdl, 12.5);
      assert.deepEqual(stored.estimate.population, {
        inPopulation: false,
        reasons: [notice('notice.population.bmiOutside', { value: 32, min: 18, max: 30 })],
      });
      const message = estimateMessage(stored);
      assert.equal(message.population.inPopulation, false);
      assert.equal(message.population.flag, OUT_OF_POPULATION_FLAG);
      const queued = JSON.parse(peek(store.db, 1)[0]?.payload ?? '{}') as typeof message;
      assert.equal(queued.population.flag, OUT_OF_POPULATION_FLAG);
      const report = formatScanReport(stored, { sent: 1, pending: 0, connected: true }, 'mqtt://x');
      assert.ok(report.includes(`Study population: ${OUT_OF_POPULATION_FLAG}`), report);
      assert.ok(report.includes('(BMI 32 kg/m² is outside 18–30 kg/m²)'), report);
      assert.deepEqual(queued.population.reasons, ['BMI 32 kg/m² is outside 18–30 kg/m²']);
    } finally {
      store.close();
    }
  });

  test('estimate in population has no flag', () => {
    const record = scanRecord('case-typical');
    record.estimate.population = checkScanPopulation(record.covariates, 13);
    const message = estimateMessage(record);
    assert.deepEqual(message.population, { inPopulation: true, flag: null, reasons: [] });
    const report = formatScanReport(record, { sent: 1, pending: 0, connected: true }, 'mqtt://x');
    assert.ok(report.includes('Study population: within the inclusion criteria'), report);
  });

  test('saveScan rejects flag without reason', () => {
    const store = openTempStore();
    try {
      const record = scanRecord('case-bad-flag');
      record.estimate.population = { inPopulation: false, reasons: [] };
      assert.throws(
        () => saveScan(store, record, []),
        (error: unknown) => error instanceof BvEdgeError && error.code === 'INVALID_SCAN_RECORD',
      );
      const outOfRange = scanRecord('case-bad-hb');
      outOfRange.hbPreopGdl = 31;
      assert.throws(
        () => saveScan(store, outOfRange, []),
        (error: unknown) => error instanceof BvEdgeError && /hbPreopGdl 31/.test(error.message),
      );
      assert.equal(getCase(store, 'case-bad-flag'), null);
      assert.equal(getCase(store, 'case-bad-hb'), null);
    } finally {
      store.close();
    }
  });

  test('training record carries flag', () => {
    const store = storeWithCase('case-flagged', 98);
    try {
      enterLabel(store, entry('case-flagged', ANH, 'single-step'), OPTIONS);
      const [payload] = trainingPayloads(store);
      assert.ok(payload, 'no training record queued');
      assert.equal(payload.schema, 'bv-edge/training-record');
      assert.equal(payload.caseId, 'case-flagged');
      assert.equal(payload.population.inPopulation, false);
      assert.equal(payload.population.flag, OUT_OF_POPULATION_FLAG);
      assert.deepEqual(payload.population.reasons, ['BMI 32 kg/m² is outside 18–30 kg/m²']);
      assert.equal(payload.estimate.population.flag, OUT_OF_POPULATION_FLAG);
      assert.equal(payload.label.method, 'single-step');
      assert.deepEqual(payload.label.bloodVolume, { value: SINGLE_STEP_ML, unit: 'mL' });
      assert.deepEqual(payload.label.inputs.hbBefore, { value: 13, unit: 'g/dL' });
      assert.deepEqual(payload.covariates.weight, { value: 98, unit: 'kg' });
      assert.equal(payload.views[0]?.view, 'ivc');
      assert.deepEqual(payload.views[0]?.areaSeries.values, [210.1, null, 209.4]);
      assert.deepEqual(payload.estimate.weightBasedBloodVolume, {
        value: 98 * 70,
        unit: 'mL',
        mlPerKg: 70,
      });
    } finally {
      store.close();
    }
  });

  test('training uses ANH Hb when preop missing', () => {
    const store = storeWithCase('case-anh-hb');
    try {
      const result = enterLabel(store, entry('case-anh-hb', ANH, 'single-step'), OPTIONS);
      assert.deepEqual(result.population, { inPopulation: true, reasons: [] });
      const [payload] = trainingPayloads(store);
      assert.ok(payload, 'no training record queued');
      assert.equal(payload.population.flag, null);
      // The estimate keeps the flag made at scan time, when no Hb was known.
      assert.equal(payload.estimate.population.flag, OUT_OF_POPULATION_FLAG);
    } finally {
      store.close();
    }
  });

  test('training record has no name or MRN', () => {
    const store = storeWithCase('case-private');
    try {
      // Extra properties as a careless caller might attach them at run time.
      const record = Object.assign({ ...ANH }, { patientName: 'Jane Roe', mrn: 'MRN-0042' });
      const value = Object.assign(entry('case-private', record, 'single-step'), {
        dateOfBirth: '1971-05-02',
      });
      value.enteredBy = 'Dr Alex Smith';
      enterLabel(store, value, OPTIONS);
      const text = peek(store.db, 1)[0]?.payload ?? '';
      assert.ok(text.length > 0, 'no training record queued');
      for (const secret of ['Jane Roe', 'MRN-0042', '1971-05-02', 'Alex Smith', 'ivc.mp4']) {
        assert.ok(!text.includes(secret), `payload contains ${secret}`);
      }
      for (const key of collectKeys(JSON.parse(text))) {
        assert.doesNotMatch(key, /patient|mrn|birth|dob|surname|address|phone|enteredBy/i);
      }
      const [label] = getLabels(store.db, 'case-private');
      assert.equal(label?.enteredBy, 'Dr Alex Smith');
    } finally {
      store.close();
    }
  });
});

describe('stored notices', () => {
  test('reasons and warnings round-trip', () => {
    const store = storeWithCase('case-notices', 98);
    try {
      const record = { ...ANH, bleedingMl: 100, replacementVolumeMl: 1100 };
      enterLabel(store, entry('case-notices', record, 'single-step'), OPTIONS);
      const raw = store.sqlite
        .prepare(
          `select population_reasons as reasons, warnings from estimates
             join anh_labels using (case_id) where case_id = 'case-notices'`,
        )
        .get() as { reasons: string; warnings: string };
      const bmi = notice('notice.population.bmiOutside', { value: 32, min: 18, max: 30 });
      const hb = notice('notice.population.hbMissing', { min: 10 });
      assert.deepEqual(JSON.parse(raw.reasons), [bmi, hb], 'reasons as stored');
      const bleeding = notice('notice.anh.bleeding', { value: 100 });
      assert.deepEqual(JSON.parse(raw.warnings), [bleeding], 'warnings as stored');
      assert.deepEqual(getCase(store, 'case-notices')?.estimate.population.reasons, [bmi, hb]);
      assert.deepEqual(getLabels(store.db, 'case-notices')[0]?.warnings, [bleeding]);
    } finally {
      store.close();
    }
  });

  test('old string rows read as plain notices', () => {
    const store = storeWithCase('case-strings');
    try {
      enterLabel(store, entry('case-strings', ANH, 'single-step'), OPTIONS);
      const reasons = ['age 80 years is outside 18–75 years', { key: 42 }];
      const warnings = ['bleeding 50 mL between the samples is counted as blood lost.'];
      store.sqlite
        .prepare(`update estimates set population_reasons = ? where case_id = 'case-strings'`)
        .run(JSON.stringify(reasons));
      store.sqlite
        .prepare(`update anh_labels set warnings = ? where case_id = 'case-strings'`)
        .run(JSON.stringify(warnings));

      const stored = getCase(store, 'case-strings');
      assert.deepEqual(stored?.estimate.population.reasons, [
        {
          key: 'notice.plain',
          params: { text: 'age 80 years is outside 18–75 years' },
          text: 'age 80 years is outside 18–75 years',
        },
        // A value that is no notice keeps its JSON text rather than being dropped.
        { key: 'notice.plain', params: { text: '{"key":42}' }, text: '{"key":42}' },
      ]);
      const [label] = getLabels(store.db, 'case-strings');
      assert.deepEqual(label?.warnings, [
        { key: 'notice.plain', params: { text: warnings[0]! }, text: warnings[0]! },
      ]);
      assert.deepEqual(estimateMessage(stored!).population.reasons, [
        'age 80 years is outside 18–75 years',
        '{"key":42}',
      ]);

      // An edit keeps the old warning row in the audit log as it was stored.
      enterLabel(store, entry('case-strings', { ...ANH, hbAfter: 10.1 }, 'single-step'), OPTIONS);
      const update = listAudit(store.db, 'case-strings').find(
        (item) => item.action === 'label.update',
      );
      assert.deepEqual((update?.before as { warnings: unknown } | null)?.warnings, warnings);
    } finally {
      store.close();
    }
  });

  test('saveScan reads legacy reason strings', () => {
    const store = openTempStore();
    try {
      const record = scanRecord('case-legacy-reason');
      record.estimate.population = {
        inPopulation: false,
        // An estimate kept in memory or in an open case from before notices existed.
        reasons: ['preoperative Hb not entered; cannot confirm ≥ 10 g/dL' as unknown as Notice],
      };
      saveScan(store, record, []);
      assert.deepEqual(getCase(store, 'case-legacy-reason')?.estimate.population.reasons, [
        {
          key: 'notice.plain',
          params: { text: 'preoperative Hb not entered; cannot confirm ≥ 10 g/dL' },
          text: 'preoperative Hb not entered; cannot confirm ≥ 10 g/dL',
        },
      ]);

      const malformed = scanRecord('case-bad-reason');
      malformed.estimate.population = {
        inPopulation: false,
        reasons: [
          { key: 'notice.population.hbMissing', params: { min: null } } as unknown as Notice,
        ],
      };
      assert.throws(
        () => saveScan(store, malformed, []),
        (error: unknown) =>
          error instanceof BvEdgeError &&
          error.code === 'INVALID_SCAN_RECORD' &&
          error.message.includes('reason notices'),
      );
      assert.equal(getCase(store, 'case-bad-reason'), null);
    } finally {
      store.close();
    }
  });
});

function collectKeys(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(collectKeys);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => [key, ...collectKeys(child)]);
}

describe('migrations', () => {
  test('old estimates read as unchecked', async () => {
    const folder = join(tempDir, 'migrations-0000');
    await cp(join(repoRoot, 'src/store/migrations'), folder, { recursive: true });
    const journalPath = join(folder, 'meta/_journal.json');
    const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { entries: unknown[] };
    journal.entries = journal.entries.slice(0, 1);
    await writeFile(journalPath, JSON.stringify(journal));

    await mkdir(join(tempDir, 'old'));
    const path = join(tempDir, 'old', 'bv-edge.sqlite');
    const sqlite = new Database(path);
    migrate(drizzle({ client: sqlite }), { migrationsFolder: folder });
    sqlite
      .prepare(
        `insert into cases (case_id, created_at, height_cm, weight_kg, sex) values (?, ?, ?, ?, ?)`,
      )
      .run('case-old', '2024-11-02T10:00:00.000Z', 170, 65, 'female');
    sqlite
      .prepare(
        `insert into estimates (estimate_id, case_id, bv_ml, bv_ml_per_kg, lower_ml, upper_ml,
           nadler_ml, model_name, model_version, intended_use, notice, execution_provider,
           created_at) values (?, 'case-old', 4200, 64.6, 3700, 4700, 4300, 'm', '1', 'u', 'n',
           'cpu', '2024-11-02T10:00:00.000Z')`,
      )
      .run(randomUUID());
    sqlite.close();

    const store = openDatabase(path, logger);
    try {
      const stored = getCase(store, 'case-old');
      assert.ok(stored, 'old case not readable');
      assert.equal(stored.estimate.population.inPopulation, false);
      assert.deepEqual(stored.estimate.population.reasons, [
        {
          key: 'notice.population.notChecked',
          params: {},
          text: 'population not checked: estimate stored before the check existed',
        },
      ]);
      assert.equal(stored.hbPreopGdl, undefined);
    } finally {
      store.close();
    }
  });
});

describe('anh and label commands', () => {
  const ANH_ARGS = ['--hb-before', '13', '--hb-after', '10', '--unit', 'g/dL'];

  test('anh prints every method', async () => {
    const result = await runCommand('src/commands/anh.ts', 'anhCommand', [
      ...ANH_ARGS,
      '--withdrawn-ml',
      '1000',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /single-step\s+4333 mL/);
    assert.match(result.stdout, /continuous-exchange\s+3811 mL/);
    assert.ok(result.stdout.includes('13.0 g/dL before'), result.stdout);
  });

  test('anh one method as JSON', async () => {
    // 13 and 10 g/dL in mmol/L, at 0.6206 mmol/L per g/dL.
    const result = await runCommand('src/commands/anh.ts', 'anhCommand', [
      '--hb-before',
      '8.0678',
      '--hb-after',
      '6.206',
      '--unit',
      'mmol/L',
      '--withdrawn-ml',
      '1000',
      '--method',
      'continuous-exchange',
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as { labels: { method: string; bvMl: number }[] };
    assert.equal(parsed.labels.length, 1);
    assert.equal(parsed.labels[0]?.method, 'continuous-exchange');
    assert.equal(Math.round(parsed.labels[0]?.bvMl ?? 0), 3811);
  });

  test('anh uses site config', async () => {
    const env = {
      BV_EDGE__CLINICAL__HEMOGLOBIN_UNIT: 'g/L',
      BV_EDGE__CLINICAL__ANTICOAGULANT_ML_PER_BAG: '50',
      BV_EDGE__CLINICAL__MIN_EQUILIBRATION_MINUTES: '30',
    };
    const args = [...ANH_ARGS, '--bag', '550', '--bag', '550', '--equilibration-min', '20'];
    const result = await runCommand('src/commands/anh.ts', 'anhCommand', args, env);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.includes('Hb 130 g/L before, 100 g/L after'), result.stdout);
    assert.ok(result.stdout.includes('50 mL anticoagulant each'), result.stdout);
    // 2 × (550 − 50) mL = 1000 mL net, so the labels equal those of --withdrawn-ml 1000.
    assert.match(result.stdout, /single-step\s+4333 mL/);
    assert.ok(result.stdout.includes('site minimum of 30 min'), result.stdout);
  });

  test('anh rejects bad values', async () => {
    const swapped = await runCommand('src/commands/anh.ts', 'anhCommand', [
      '--hb-before',
      '10',
      '--hb-after',
      '13',
      '--unit',
      'g/dL',
      '--withdrawn-ml',
      '1000',
    ]);
    assert.equal(swapped.code, 2);
    assert.ok(swapped.stderr.includes('Invalid hbAfter 13 g/dL'), swapped.stderr);
    assert.equal(swapped.stdout, '');
    const notNumber = await runCommand('src/commands/anh.ts', 'anhCommand', [
      ...ANH_ARGS,
      '--withdrawn-ml',
      'lots',
    ]);
    assert.equal(notNumber.code, 2);
    assert.ok(notNumber.stderr.includes('Invalid --withdrawn-ml "lots"'), notNumber.stderr);
    const noUnit = await runCommand('src/commands/anh.ts', 'anhCommand', [
      '--hb-before',
      '13',
      '--hb-after',
      '10',
      '--withdrawn-ml',
      '1000',
    ]);
    assert.equal(noUnit.code, 2);
    assert.ok(noUnit.stderr.includes('Missing --unit'), noUnit.stderr);
  });

  test('label stores and publishes', { skip: mosquittoSkipReason }, async () => {
    const dataDir = join(tempDir, 'cli-data');
    const store = openDatabase(join(dataDir, 'bv-edge.sqlite'), logger);
    saveScan(store, scanRecord('case-cli'), []);
    store.close();
    const broker = await startMosquitto();
    const subscriber = await connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const received: TrainingRecordMessage[] = [];
      subscriber.on('message', (_topic, payload) => {
        received.push(JSON.parse(payload.toString()) as TrainingRecordMessage);
      });
      await subscriber.subscribeAsync('bv-edge/v1/+/+/training', { qos: 1 });
      const common = ['--data-dir', dataDir, '--broker', broker.url, '--case-id', 'case-cli'];
      const args = [...common, ...ANH_ARGS, '--withdrawn-ml', '1000', '--entered-by', 'rn-4'];
      const result = await runCommand('src/commands/label.ts', 'labelCommand', args);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /single-step\s+4333 mL/);
      assert.ok(result.stdout.includes('Published to MQTT broker'), result.stdout);
      assert.equal(received.length, 2, `received ${received.length} training records`);
      assert.equal(received[0]?.caseId, 'case-cli');

      const unknown = await runCommand('src/commands/label.ts', 'labelCommand', [
        ...args.map((arg) => (arg === 'case-cli' ? 'case-none' : arg)),
      ]);
      assert.equal(unknown.code, 1);
      assert.ok(unknown.stderr.includes('Unknown case id "case-none"'), unknown.stderr);
      const reopened = openDatabase(join(dataDir, 'bv-edge.sqlite'), logger);
      try {
        assert.equal(getLabels(reopened.db, 'case-cli').length, 2);
        assert.equal(getLabels(reopened.db, 'case-none').length, 0);
        assert.equal(peek(reopened.db, 10).length, 0, 'outbox not drained');
      } finally {
        reopened.close();
      }
    } finally {
      await subscriber.endAsync();
      await broker.stop();
    }
  });
});
