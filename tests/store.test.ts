import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import Database from 'better-sqlite3';

import { BvEdgeError } from '../src/core/errors.ts';
import { silentLogger } from '../src/core/log.ts';
import { notice } from '../src/notices/index.ts';
import type { ScanRecord, ViewResult } from '../src/scan/types.ts';
import { deleteMrn, getMrn, putMrn } from '../src/hl7/mrn-store.ts';
import { eraseWal, openDatabase, type Store } from '../src/store/db.ts';
import { enqueue, markSent, outboxStats, peek, recordFailure } from '../src/store/outbox.ts';
import { countCases, getCase, saveScan } from '../src/store/scans.ts';

const logger = silentLogger();
let tempDir = '';

before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'bv-edge-store-'));
});

after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

function openTempStore(name: string): Store {
  return openDatabase(join(tempDir, name, 'bv-edge.sqlite'), logger);
}

function ijvView(): ViewResult {
  return {
    view: 'ijv',
    // The folder names the patient, as a USB stick from another system might; only ijv.mp4 is kept.
    source: '/media/usb/Doe_John/ijv.mp4',
    imageArea: { x: 112, y: 64, width: 800, height: 600 },
    seed: { x: 512.5, y: 340.25 },
    seeded: true,
    frameCount: 150,
    fps: 30,
    durationS: 5,
    mmPerPixel: 0.0625,
    measurements: {
      areaMm2: { mean: 98.4, min: 61.2, max: 131.7 },
      apDiameterMm: { mean: 9.1, min: 6.8, max: 11.4 },
      lateralDiameterMm: { mean: 13.7, min: 12.9, max: 14.6 },
      collapsibilityIndex: 0.4035,
      trackedFraction: 0.98,
    },
    areaSeriesMm2: [98.1, 97.5, Number.NaN, 99.0],
    features: [0.125, -1.5, 3.75],
  };
}

function caView(): ViewResult {
  return {
    view: 'ca',
    source: 'ca.mp4',
    imageArea: { x: 112, y: 64, width: 800, height: 600 },
    seed: { x: 430, y: 300 },
    seeded: false,
    frameCount: 300,
    fps: 60,
    durationS: 5,
    mmPerPixel: 0.0625,
    measurements: {
      areaMm2: { mean: 38.5, min: 35.1, max: 42.3 },
      apDiameterMm: { mean: 7.0, min: 6.7, max: 7.3 },
      lateralDiameterMm: { mean: 7.1, min: 6.8, max: 7.4 },
      pulsatilityIndex: 0.187,
      heartRateBpm: 72,
      trackedFraction: 1,
    },
    areaSeriesMm2: [38.2, 39.9, 42.3],
    features: [0.5],
  };
}

function sampleRecord(caseId: string): ScanRecord {
  return {
    caseId,
    estimateId: randomUUID(),
    createdAt: '2025-03-14T09:26:53.000Z',
    covariates: { heightCm: 178, weightKg: 70, sex: 'male', ageYears: 54 },
    views: [ijvView(), caView()],
    estimate: {
      bvMl: 4850,
      bvMlPerKg: 69.29,
      lowerMl: 4210,
      upperMl: 5490,
      nadlerMl: 4927,
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

/** The record as getCase returns it: view sources without folders. */
function expectedStored(record: ScanRecord): ScanRecord {
  return {
    ...record,
    views: record.views.map((view) => ({ ...view, source: view.source.split('/').at(-1)! })),
  };
}

function tableCount(store: Store, table: 'cases' | 'views' | 'estimates' | 'outbox'): number {
  const row = store.sqlite.prepare(`select count(*) as n from ${table}`).get() as { n: number };
  return row.n;
}

describe('openDatabase', () => {
  test('creates folder and applies migrations', () => {
    const store = openTempStore('fresh/nested');
    try {
      assert.ok(existsSync(join(tempDir, 'fresh/nested/bv-edge.sqlite')));
      const tables = store.sqlite
        .prepare(`select name from sqlite_master where type = 'table' order by name`)
        .all()
        .map((row) => (row as { name: string }).name);
      for (const table of ['cases', 'estimates', 'outbox', 'views']) {
        assert.ok(tables.includes(table), `table ${table} missing from ${tables.join(', ')}`);
      }
    } finally {
      store.close();
    }
  });

  test('enables WAL, foreign keys and busy timeout', () => {
    const store = openTempStore('pragmas');
    try {
      assert.equal(store.sqlite.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(store.sqlite.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(store.sqlite.pragma('busy_timeout', { simple: true }), 5000);
    } finally {
      store.close();
    }
  });

  test('reopens an existing database', () => {
    const first = openTempStore('reopen');
    saveScan(first, sampleRecord('case-reopen'), []);
    first.close();

    const second = openTempStore('reopen');
    try {
      assert.equal(countCases(second), 1);
      assert.ok(getCase(second, 'case-reopen'));
    } finally {
      second.close();
    }
  });

  test('deleted MRN leaves no bytes', () => {
    const store = openTempStore('secure-delete');
    const dbPath = store.path;
    const mrn = 'MRN-ZX81-4417-QQ';
    const fileBytes = (): Buffer => {
      const wal = `${dbPath}-wal`;
      return Buffer.concat([
        readFileSync(dbPath),
        existsSync(wal) ? readFileSync(wal) : Buffer.alloc(0),
      ]);
    };
    try {
      assert.equal(store.sqlite.pragma('secure_delete', { simple: true }), 1);
      const now = new Date('2024-05-02T10:00:00Z');
      putMrn(store.db, 'case-mrn', mrn, now, new Date('2024-05-03T10:00:00Z'));
      assert.ok(fileBytes().includes(mrn), 'the stored MRN is on disk before the deletion');
      // A checkpoint moves the page with the MRN into the database file, where the delete must
      // overwrite it, not only drop it from the b-tree.
      assert.equal(eraseWal(store), true, 'checkpoint before the deletion completed');
      assert.ok(readFileSync(dbPath).includes(mrn), 'the MRN reached the database file');

      assert.equal(deleteMrn(store.db, 'case-mrn', 'case-abandoned', now), true);
      assert.equal(getMrn(store.db, 'case-mrn'), null);
      assert.equal(eraseWal(store), true, 'checkpoint after the deletion completed');
      assert.equal(readFileSync(dbPath).includes(mrn), false, 'MRN bytes left in the database');
      const wal = `${dbPath}-wal`;
      const walSize = existsSync(wal) ? readFileSync(wal).length : 0;
      assert.equal(walSize, 0, 'the write-ahead log is truncated');
    } finally {
      store.close();
    }
  });

  test('migration adds translations to an existing database', () => {
    const first = openTempStore('before-0008');
    saveScan(first, sampleRecord('case-old'), []);
    const path = first.path;
    first.close();
    // Turns the file back into a database of the release before 0008_notice_translations.
    const raw = new Database(path);
    raw.exec('ALTER TABLE estimates DROP COLUMN notice_translations');
    raw.exec(
      'DELETE FROM __drizzle_migrations WHERE created_at = ' +
        '(SELECT max(created_at) FROM __drizzle_migrations)',
    );
    raw.close();

    const second = openTempStore('before-0008');
    try {
      const columns = second.sqlite
        .prepare('select name from pragma_table_info(?)')
        .all('estimates')
        .map((row) => (row as { name: string }).name);
      assert.ok(columns.includes('notice_translations'), `columns: ${columns.join(', ')}`);
      const old = getCase(second, 'case-old');
      assert.ok(old, 'the case stored before the migration is gone');
      assert.ok(!('noticeTranslations' in old.estimate), 'the old estimate gained translations');
      const record = sampleRecord('case-new');
      record.estimate.noticeTranslations = { 'zh-CN': '参考模型。' };
      saveScan(second, record, []);
      assert.deepEqual(getCase(second, 'case-new')?.estimate.noticeTranslations, {
        'zh-CN': '参考模型。',
      });
    } finally {
      second.close();
    }
  });

  test('close is idempotent', () => {
    const store = openTempStore('close-twice');
    store.close();
    assert.doesNotThrow(() => store.close());
  });
});

describe('saveScan', () => {
  test('round trip returns stored record', () => {
    const store = openTempStore('round-trip');
    try {
      const record = sampleRecord('case-0001');
      const payload = { estimateId: record.estimateId, bloodVolume: { value: 4850, unit: 'mL' } };
      saveScan(store, record, [{ topic: 'bv-edge/v1/site/cart/estimates', payload }]);

      const stored = getCase(store, 'case-0001');
      assert.deepEqual(stored, expectedStored(record));
      assert.equal(countCases(store), 1);
      assert.equal(tableCount(store, 'views'), 2);
      assert.equal(tableCount(store, 'estimates'), 1);

      const [queued] = peek(store.db, 10);
      assert.ok(queued);
      assert.equal(queued.topic, 'bv-edge/v1/site/cart/estimates');
      assert.deepEqual(JSON.parse(queued.payload), payload);
      assert.equal(queued.qos, 1);
      assert.equal(queued.attempts, 0);
    } finally {
      store.close();
    }
  });

  test('stores only the file name of view sources', () => {
    const store = openTempStore('basename');
    try {
      saveScan(store, sampleRecord('case-basename'), []);
      const sources = store.sqlite
        .prepare('select source_file from views order by position')
        .all()
        .map((row) => (row as { source_file: string }).source_file);
      assert.deepEqual(sources, ['ijv.mp4', 'ca.mp4']);
      const raw = JSON.stringify(store.sqlite.prepare('select * from views').all());
      assert.ok(!raw.includes('Doe_John'), 'folder name leaked into the views table');
    } finally {
      store.close();
    }
  });

  test('keeps NaN in the area series', () => {
    const store = openTempStore('nan');
    try {
      saveScan(store, sampleRecord('case-nan'), []);
      const series = getCase(store, 'case-nan')?.views[0]?.areaSeriesMm2;
      assert.ok(series);
      assert.equal(series.length, 4);
      assert.ok(Number.isNaN(series[2]));
      assert.equal(series[3], 99.0);
    } finally {
      store.close();
    }
  });

  test('omits missing age on read', () => {
    const store = openTempStore('no-age');
    try {
      const record = sampleRecord('case-no-age');
      delete record.covariates.ageYears;
      saveScan(store, record, []);
      const stored = getCase(store, 'case-no-age');
      assert.ok(stored);
      assert.ok(!('ageYears' in stored.covariates));
    } finally {
      store.close();
    }
  });

  test('rejects duplicate case id and keeps the first', () => {
    const store = openTempStore('duplicate');
    try {
      const first = sampleRecord('case-dup');
      saveScan(store, first, [{ topic: 't/estimates', payload: { n: 1 } }]);

      const second = sampleRecord('case-dup');
      second.estimate.bvMl = 9999;
      assert.throws(
        () => saveScan(store, second, [{ topic: 't/estimates', payload: { n: 2 } }]),
        (error: unknown) => {
          assert.ok(error instanceof BvEdgeError);
          assert.equal(error.code, 'CASE_EXISTS');
          assert.match(error.message, /case-dup/);
          assert.match(error.message, /new case id/);
          return true;
        },
      );
      assert.deepEqual(getCase(store, 'case-dup'), expectedStored(first));
      assert.equal(tableCount(store, 'estimates'), 1);
      assert.equal(tableCount(store, 'outbox'), 1);
    } finally {
      store.close();
    }
  });

  test('rolls back everything when an outbox insert fails', () => {
    const store = openTempStore('rollback');
    try {
      const messageId = randomUUID();
      // The second row repeats the message id, so its insert fails on the UNIQUE constraint
      // after the case, views, estimate and first outbox row were written.
      const messages = [
        { topic: 't/estimates', payload: { n: 1 }, messageId },
        { topic: 't/estimates', payload: { n: 2 }, messageId },
      ];
      assert.throws(
        () => saveScan(store, sampleRecord('case-rollback'), messages),
        /UNIQUE constraint failed: outbox\.message_id/,
      );
      assert.equal(getCase(store, 'case-rollback'), null);
      assert.equal(tableCount(store, 'cases'), 0);
      assert.equal(tableCount(store, 'views'), 0);
      assert.equal(tableCount(store, 'estimates'), 0);
      assert.equal(tableCount(store, 'outbox'), 0);
    } finally {
      store.close();
    }
  });

  test('rolls back when the database rejects a view', () => {
    const store = openTempStore('rollback-view');
    try {
      const record = sampleRecord('case-bad-view');
      // The cast imitates data from an older file with a view name outside the schema.
      // The CHECK constraint rejects it after the case row is written.
      (record.views[1] as { view: string }).view = 'femoral';
      assert.throws(() => saveScan(store, record, []), /CHECK constraint failed: views_view_valid/);
      assert.equal(tableCount(store, 'cases'), 0);
      assert.equal(tableCount(store, 'views'), 0);
    } finally {
      store.close();
    }
  });

  test('rejects invalid records before writing', () => {
    const store = openTempStore('invalid');
    try {
      const cases: [string, (record: ScanRecord) => void, RegExp][] = [
        ['empty case id', (r) => (r.caseId = ' '), /caseId is empty/],
        ['estimate id not a UUID', (r) => (r.estimateId = 'est-1'), /est-1 is not a UUID/],
        ['bad createdAt', (r) => (r.createdAt = 'yesterday'), /yesterday/],
        ['duplicate view', (r) => r.views.push(ijvView()), /view ijv twice/],
        ['NaN estimate', (r) => (r.estimate.bvMl = Number.NaN), /estimate\.bvMl is NaN/],
      ];
      for (const [name, mutate, message] of cases) {
        const record = sampleRecord(`case-${name.replaceAll(' ', '-')}`);
        mutate(record);
        assert.throws(
          () => saveScan(store, record, [{ topic: 't/estimates', payload: {} }]),
          (error: unknown) => {
            assert.ok(error instanceof BvEdgeError, name);
            assert.equal(error.code, 'INVALID_SCAN_RECORD', name);
            assert.match(error.message, message, name);
            return true;
          },
        );
      }
      assert.equal(countCases(store), 0);
      assert.equal(tableCount(store, 'outbox'), 0);
    } finally {
      store.close();
    }
  });

  test('round trip keeps notice translations', () => {
    const store = openTempStore('translations');
    try {
      const record = sampleRecord('case-translated');
      record.estimate.noticeTranslations = { 'zh-CN': '参考模型，不得用于临床。' };
      saveScan(store, record, []);
      const stored = getCase(store, 'case-translated');
      assert.deepEqual(stored, expectedStored(record));
      assert.deepEqual(stored?.estimate.noticeTranslations, {
        'zh-CN': '参考模型，不得用于临床。',
      });
    } finally {
      store.close();
    }
  });

  test('estimate without translations reads without them', () => {
    const store = openTempStore('no-translations');
    try {
      saveScan(store, sampleRecord('case-plain'), []);
      const raw = store.sqlite.prepare('select notice_translations from estimates').get() as {
        notice_translations: string | null;
      };
      assert.equal(raw.notice_translations, null);
      const stored = getCase(store, 'case-plain');
      assert.ok(stored, 'case-plain not found');
      assert.ok(!('noticeTranslations' in stored.estimate), 'a null column read as translations');
    } finally {
      store.close();
    }
  });

  test('getCase returns null for unknown id', () => {
    const store = openTempStore('unknown');
    try {
      assert.equal(getCase(store, 'case-missing'), null);
      assert.equal(countCases(store), 0);
    } finally {
      store.close();
    }
  });
});

describe('outbox', () => {
  test('peek returns messages in queue order', () => {
    const store = openTempStore('outbox-order');
    try {
      for (let n = 1; n <= 5; n++) enqueue(store.db, { topic: 't/estimates', payload: { n } });
      const rows = peek(store.db, 3);
      assert.deepEqual(
        rows.map((row) => JSON.parse(row.payload)),
        [{ n: 1 }, { n: 2 }, { n: 3 }],
      );
      const seqs = rows.map((row) => row.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
      );
      assert.equal(new Set(rows.map((row) => row.messageId)).size, 3);
    } finally {
      store.close();
    }
  });

  test('markSent deletes only that row', () => {
    const store = openTempStore('outbox-sent');
    try {
      const first = enqueue(store.db, { topic: 't/a', payload: { n: 1 } });
      const second = enqueue(store.db, { topic: 't/a', payload: { n: 2 } });
      assert.equal(markSent(store.db, first.seq), true);
      assert.equal(markSent(store.db, first.seq), false);
      assert.deepEqual(
        peek(store.db, 10).map((row) => row.seq),
        [second.seq],
      );
    } finally {
      store.close();
    }
  });

  test('recordFailure counts attempts and keeps error', () => {
    const store = openTempStore('outbox-failure');
    try {
      const row = enqueue(store.db, { topic: 't/a', payload: {} });
      recordFailure(store.db, row.seq, 'connack timeout');
      recordFailure(store.db, row.seq, 'Connection closed');
      const [stored] = peek(store.db, 1);
      assert.equal(stored?.attempts, 2);
      assert.equal(stored?.lastError, 'Connection closed');
    } finally {
      store.close();
    }
  });

  test('stats report depth and oldest age', () => {
    const store = openTempStore('outbox-stats');
    try {
      assert.deepEqual(outboxStats(store.db), { depth: 0, oldestAgeS: null });
      enqueue(store.db, { topic: 't/a', payload: {} }, new Date('2025-03-14T09:00:00.000Z'));
      enqueue(store.db, { topic: 't/a', payload: {} }, new Date('2025-03-14T09:01:00.000Z'));
      const stats = outboxStats(store.db, new Date('2025-03-14T09:02:30.000Z'));
      assert.equal(stats.depth, 2);
      assert.equal(stats.oldestAgeS, 150);
    } finally {
      store.close();
    }
  });

  test('enqueue inside a failed transaction leaves nothing', () => {
    const store = openTempStore('outbox-tx');
    try {
      assert.throws(() =>
        store.db.transaction((tx) => {
          enqueue(tx, { topic: 't/a', payload: { n: 1 } });
          throw new Error('abort after enqueue');
        }),
      );
      assert.equal(outboxStats(store.db).depth, 0);
    } finally {
      store.close();
    }
  });

  test('database rejects invalid qos', () => {
    const store = openTempStore('outbox-qos');
    try {
      assert.throws(
        () => enqueue(store.db, { topic: 't/a', payload: {}, qos: 3 as 1 }),
        /CHECK constraint failed: outbox_qos_valid/,
      );
    } finally {
      store.close();
    }
  });
});
