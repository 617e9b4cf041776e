import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import Database from 'better-sqlite3';

import { BvEdgeError } from '../src/core/errors.ts';
import { silentLogger } from '../src/core/log.ts';
import {
  applyRetention,
  backupDatabase,
  backupDue,
  checkDatabaseFile,
  DiskGuard,
  listBackups,
  openCheckedDatabase,
  StorageCare,
  StorageEvents,
  StorageSchema,
  type StorageEventMap,
} from '../src/ops/index.ts';
import { openDatabase, type Store } from '../src/store/db.ts';
import { enqueue } from '../src/store/outbox.ts';

const logger = silentLogger();
const NOW = new Date('2026-03-01T12:00:00.000Z');
const DAY_MS = 86_400_000;
let tempDir = '';
let folderCount = 0;

before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'bv-edge-ops-storage-'));
});

after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

/** Returns the path of a new folder under the test's temp folder. */
function folder(): string {
  folderCount += 1;
  return join(tempDir, `f${folderCount}`);
}

function daysAgo(days: number): string {
  return new Date(NOW.getTime() - days * DAY_MS).toISOString();
}

function insertCase(store: Store, caseId: string, createdAt: string): void {
  store.sqlite
    .prepare(
      'INSERT INTO cases (case_id, created_at, height_cm, weight_kg, sex) ' +
        "VALUES (?, ?, 170, 70, 'female')",
    )
    .run(caseId, createdAt);
}

function insertView(store: Store, caseId: string): void {
  store.sqlite
    .prepare(
      'INSERT INTO views (case_id, view, position, source_file, image_x, image_y, image_width, ' +
        'image_height, seed_x, seed_y, seeded, frame_count, fps, duration_s, mm_per_pixel, ' +
        "measurements, area_series_mm2, features) VALUES (?, 'ivc', 0, 'ivc.mp4', 0, 0, 320, " +
        "240, 10, 10, 0, 90, 30, 3, 0.1, '{}', '[]', '[]')",
    )
    .run(caseId);
}

function insertLabelAudit(store: Store, caseId: string): void {
  store.sqlite
    .prepare(
      'INSERT INTO audit_log (actor, at, action, case_id, before, after) ' +
        "VALUES ('nurse', ?, 'label.create', ?, NULL, '{}')",
    )
    .run(daysAgo(40), caseId);
}

function insertWorkflowCase(
  store: Store,
  caseId: string,
  status: 'open' | 'closed' | 'abandoned',
  endedAt: string | null,
): void {
  store.sqlite
    .prepare(
      'INSERT INTO workflow_cases (case_id, status, step, covariates, required_views, ' +
        "opened_at, updated_at, ended_at) VALUES (?, ?, 'idle', '{}', '[]', ?, ?, ?)",
    )
    .run(caseId, status, daysAgo(400), daysAgo(400), endedAt);
}

function countRows(store: Store, table: string, caseId: string): number {
  const row = store.sqlite
    .prepare(`SELECT count(*) AS n FROM ${table} WHERE case_id = ?`)
    .get(caseId) as { n: number };
  return row.n;
}

function recordEvents(events: StorageEvents): Partial<Record<keyof StorageEventMap, unknown[]>> {
  const seen: Partial<Record<keyof StorageEventMap, unknown[]>> = {};
  for (const name of ['quarantine', 'retention', 'backup', 'disk-low', 'disk-ok'] as const) {
    events.on(name, (payload) => (seen[name] ??= []).push(payload));
  }
  return seen;
}

describe('start-up integrity check', () => {
  test('garbage database file is quarantined', () => {
    const dir = folder();
    const path = join(dir, 'bv-edge.sqlite');
    openDatabase(path, logger).close();
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(path, garbage);
    writeFileSync(`${path}-wal`, 'not a write-ahead log');

    const { store, quarantine } = openCheckedDatabase(path, logger, () => NOW);
    try {
      assert.ok(quarantine, 'a quarantine report for the garbage file');
      assert.equal(quarantine.path, path);
      assert.match(quarantine.reason, /not a database/);
      const base = `${path}.corrupt-2026-03-01T12-00-00-000Z`;
      // The -shm file, which the check's read-only connection may create, moves along.
      assert.deepEqual(quarantine.movedTo.slice(0, 2), [base, `${base}-wal`]);
      assert.deepEqual(readFileSync(base), garbage, 'the moved file keeps its bytes');
      assert.equal(readFileSync(`${base}-wal`, 'utf8'), 'not a write-ahead log');
      assert.equal(checkDatabaseFile(path), null, 'the fresh database passes quick_check');
      const cases = store.sqlite.prepare('SELECT count(*) AS n FROM cases').get() as { n: number };
      assert.equal(cases.n, 0);
      const audit = store.sqlite
        .prepare(
          "SELECT case_id AS caseId, after FROM audit_log WHERE action = 'storage.quarantine'",
        )
        .all() as { caseId: string | null; after: string }[];
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.caseId, null);
      assert.deepEqual(JSON.parse(audit[0]!.after).movedTo, quarantine.movedTo);
    } finally {
      store.close();
    }
  });

  test('damaged table pages are quarantined', () => {
    const dir = folder();
    const path = join(dir, 'bv-edge.sqlite');
    const store = openDatabase(path, logger);
    for (let i = 0; i < 200; i += 1) insertCase(store, `case-${i}`, daysAgo(1));
    store.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    store.close();
    // Page 1 (the header and schema) stays, so SQLite opens the file; every later page is noise.
    const bytes = readFileSync(path);
    const pageSize = bytes.readUInt16BE(16);
    for (let i = pageSize; i < bytes.length; i += 1) bytes[i] = (i * 131) % 251;
    writeFileSync(path, bytes);

    assert.notEqual(checkDatabaseFile(path), null, 'quick_check reports the damage');
    const { store: fresh, quarantine } = openCheckedDatabase(path, logger, () => NOW);
    fresh.close();
    assert.ok(quarantine, 'a quarantine report for the damaged file');
    assert.ok(existsSync(quarantine.movedTo[0]!), `${quarantine.movedTo[0]} exists`);
  });

  test('sound database is opened in place', () => {
    const dir = folder();
    const path = join(dir, 'bv-edge.sqlite');
    const first = openDatabase(path, logger);
    insertCase(first, 'kept', daysAgo(1));
    first.close();

    const { store, quarantine } = openCheckedDatabase(path, logger);
    try {
      assert.equal(quarantine, null);
      assert.equal(countRows(store, 'cases', 'kept'), 1);
      assert.deepEqual(
        readdirSync(dir).filter((name) => name.includes('corrupt')),
        [],
        'nothing moved aside',
      );
    } finally {
      store.close();
    }
  });

  test('missing database file is created', () => {
    const path = join(folder(), 'bv-edge.sqlite');
    const { store, quarantine } = openCheckedDatabase(path, logger);
    store.close();
    assert.equal(quarantine, null);
    assert.ok(existsSync(path), `${path} created`);
  });
});

describe('retention', () => {
  test('removes only old closed cases', () => {
    const store = openDatabase(join(folder(), 'bv-edge.sqlite'), logger);
    try {
      insertCase(store, 'old-sent', daysAgo(40));
      insertView(store, 'old-sent');
      insertWorkflowCase(store, 'old-sent', 'closed', daysAgo(40));
      insertCase(store, 'old-labelled', daysAgo(35));
      insertLabelAudit(store, 'old-labelled');
      insertCase(store, 'old-queued', daysAgo(50));
      enqueue(store.db, { topic: 'bv/site/cart/estimates', payload: { caseId: 'old-queued' } });
      insertCase(store, 'recent', daysAgo(10));
      insertCase(store, 'old-offset', '2026-01-01T10:00:00+02:00');
      insertWorkflowCase(store, 'open-long', 'open', null);
      insertWorkflowCase(store, 'abandoned-old', 'abandoned', daysAgo(60));
      insertWorkflowCase(store, 'abandoned-new', 'abandoned', daysAgo(2));
      // A table that another part of bv-edge might add, still referencing one old case.
      store.sqlite.exec('CREATE TABLE extra (case_id TEXT REFERENCES cases(case_id))');
      insertCase(store, 'old-referenced', daysAgo(45));
      store.sqlite.prepare("INSERT INTO extra VALUES ('old-referenced')").run();

      const report = applyRetention(store, { days: 30, now: NOW, logger });

      assert.deepEqual(report.removedCaseIds.sort(), ['old-labelled', 'old-offset', 'old-sent']);
      assert.deepEqual(report.keptQueued, ['old-queued']);
      assert.deepEqual(report.keptReferenced, ['old-referenced']);
      assert.equal(report.removedAbandoned, 1);
      assert.equal(report.cutoff, daysAgo(30));
      for (const removed of ['old-sent', 'old-labelled', 'old-offset']) {
        assert.equal(countRows(store, 'cases', removed), 0, `${removed} removed`);
      }
      assert.equal(countRows(store, 'views', 'old-sent'), 0, 'views of a removed case go too');
      assert.equal(countRows(store, 'workflow_cases', 'old-sent'), 0);
      for (const kept of ['old-queued', 'recent', 'old-referenced']) {
        assert.equal(countRows(store, 'cases', kept), 1, `${kept} kept`);
      }
      assert.equal(countRows(store, 'workflow_cases', 'open-long'), 1, 'an open case stays');
      assert.equal(countRows(store, 'workflow_cases', 'abandoned-new'), 1);
      assert.equal(countRows(store, 'workflow_cases', 'abandoned-old'), 0);
      const audit = store.sqlite
        .prepare(
          "SELECT case_id AS caseId, after FROM audit_log WHERE action = 'storage.retention'",
        )
        .all() as { caseId: string | null; after: string }[];
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.caseId, null);
      assert.deepEqual(JSON.parse(audit[0]!.after).removedCaseIds.sort(), [
        'old-labelled',
        'old-offset',
        'old-sent',
      ]);
    } finally {
      store.close();
    }
  });

  test('nothing due writes no audit entry', () => {
    const store = openDatabase(join(folder(), 'bv-edge.sqlite'), logger);
    try {
      insertCase(store, 'recent', daysAgo(1));
      const report = applyRetention(store, { days: 30, now: NOW, logger });
      assert.deepEqual(report.removedCaseIds, []);
      const audit = store.sqlite.prepare('SELECT count(*) AS n FROM audit_log').get() as {
        n: number;
      };
      assert.equal(audit.n, 0);
    } finally {
      store.close();
    }
  });
});

describe('disk guard', () => {
  test('floor above free space rejects recording', () => {
    const changes: boolean[] = [];
    const guard = new DiskGuard({
      path: tempDir,
      // 10 TiB: above the free space of any test machine.
      minFreeMb: 10 * 1024 * 1024,
      logger,
      onChange: (low) => changes.push(low),
    });
    assert.throws(
      () => guard.assertCanRecord('ivc'),
      (error: unknown) => {
        assert.ok(error instanceof BvEdgeError, 'a BvEdgeError');
        assert.equal(error.code, 'insufficient_storage');
        assert.match(error.message, /Cannot record the IVC view: only \d+ MiB are free/);
        assert.match(error.message, /storage\.minFreeMb/);
        return true;
      },
    );
    assert.deepEqual(changes, [true]);
  });

  test('zero floor allows recording', () => {
    const guard = new DiskGuard({ path: tempDir, minFreeMb: 0, logger });
    assert.doesNotThrow(() => guard.assertCanRecord('ijv'));
    const report = guard.check();
    assert.equal(report.low, false);
    assert.ok(report.freeBytes > 0, `free bytes ${report.freeBytes}`);
  });

  test('missing data folder is an error', () => {
    const guard = new DiskGuard({ path: join(tempDir, 'absent'), minFreeMb: 1, logger });
    assert.throws(() => guard.check(), /ENOENT/);
  });
});

describe('backups', () => {
  test('backup passes integrity_check and rotates', () => {
    const store = openDatabase(join(folder(), 'bv-edge.sqlite'), logger);
    const dir = folder();
    try {
      for (let i = 0; i < 50; i += 1) insertCase(store, `case-${i}`, daysAgo(i));
      const reports = [];
      for (let hour = 0; hour < 4; hour += 1) {
        const now = new Date(NOW.getTime() + hour * 3_600_000);
        reports.push(backupDatabase(store, { dir, keep: 3, now }));
      }
      assert.equal(reports[0]!.path, join(dir, 'bv-edge-20260301T120000Z.sqlite'));
      assert.deepEqual(reports[3]!.removed, [reports[0]!.path]);
      assert.deepEqual(
        listBackups(dir).map((backup) => backup.path),
        [reports[3]!.path, reports[2]!.path, reports[1]!.path],
      );
      const copy = new Database(reports[3]!.path, { readonly: true });
      try {
        assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
        const row = copy.prepare('SELECT count(*) AS n FROM cases').get() as { n: number };
        assert.equal(row.n, 50);
      } finally {
        copy.close();
      }
    } finally {
      store.close();
    }
  });

  test('interrupted copy is removed', () => {
    const store = openDatabase(join(folder(), 'bv-edge.sqlite'), logger);
    const dir = folder();
    try {
      backupDatabase(store, { dir, keep: 2, now: NOW });
      writeFileSync(join(dir, 'bv-edge-20260301T130000Z.sqlite.partial'), 'cut off');
      backupDatabase(store, { dir, keep: 2, now: new Date(NOW.getTime() + 7_200_000) });
      assert.deepEqual(readdirSync(dir).sort(), [
        'bv-edge-20260301T120000Z.sqlite',
        'bv-edge-20260301T140000Z.sqlite',
      ]);
    } finally {
      store.close();
    }
  });

  test('backup due after interval', () => {
    const store = openDatabase(join(folder(), 'bv-edge.sqlite'), logger);
    const dir = folder();
    try {
      assert.equal(backupDue(dir, 24, NOW), true, 'due with no backup');
      backupDatabase(store, { dir, keep: 2, now: NOW });
      assert.equal(backupDue(dir, 24, new Date(NOW.getTime() + 23 * 3_600_000)), false);
      assert.equal(backupDue(dir, 24, new Date(NOW.getTime() + 24 * 3_600_000)), true);
    } finally {
      store.close();
    }
  });
});

describe('storage care service', () => {
  test('start backs up and stop truncates the WAL', () => {
    const dataDir = folder();
    const path = join(dataDir, 'bv-edge.sqlite');
    const store = openDatabase(path, logger);
    const events = new StorageEvents(logger);
    const seen = recordEvents(events);
    insertCase(store, 'old', daysAgo(400));
    insertCase(store, 'new', daysAgo(1));
    const config = StorageSchema.parse({ retentionDays: 30, walAutocheckpointPages: 500 });
    const care = new StorageCare({ store, config, dataDir, events, logger, now: () => NOW });
    try {
      care.start();
      assert.equal(store.sqlite.pragma('wal_autocheckpoint', { simple: true }), 500);
      assert.equal(seen.backup?.length, 1, 'one backup at start');
      assert.deepEqual(listBackups(join(dataDir, 'backups')).length, 1);
      assert.equal(seen.retention?.length, 1, 'retention ran at start');
      assert.equal(countRows(store, 'cases', 'old'), 0);
      assert.equal(countRows(store, 'cases', 'new'), 1);
      insertCase(store, 'after-start', daysAgo(0));
      assert.ok(readFileSync(`${path}-wal`).length > 0, 'the insert is in the WAL');
      care.runMaintenance();
      assert.equal(seen.backup?.length, 1, 'no second backup within the interval');
    } finally {
      care.stop();
    }
    assert.equal(readFileSync(`${path}-wal`).length, 0, 'stop truncated the WAL');
    store.close();
  });

  test('low disk skips backup and reports', () => {
    const dataDir = folder();
    const store = openDatabase(join(dataDir, 'bv-edge.sqlite'), logger);
    const events = new StorageEvents(logger);
    const seen = recordEvents(events);
    const config = StorageSchema.parse({ minFreeMb: 10 * 1024 * 1024 });
    const care = new StorageCare({ store, config, dataDir, events, logger, now: () => NOW });
    try {
      care.start();
      assert.equal(seen['disk-low']?.length, 1, 'disk-low event');
      assert.equal(seen.backup, undefined, 'no backup below the floor');
      assert.equal(existsSync(join(dataDir, 'backups')), false);
    } finally {
      care.stop();
      store.close();
    }
  });
});
