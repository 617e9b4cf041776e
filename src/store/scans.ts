import { basename } from 'node:path';

import { asc, desc, eq, sql } from 'drizzle-orm';

import { ANH_LIMITS } from '../clinical/anh.ts';
import { BvEdgeError } from '../core/errors.ts';
import { plainNotice, readNotice, type Notice } from '../core/notice.ts';
import { notice } from '../notices/index.ts';
import type {
  Covariates,
  Estimate,
  PopulationFlag,
  ScanRecord,
  ViewResult,
} from '../scan/types.ts';
import type { Store, StoreExecutor } from './db.ts';
import { enqueue, type OutboxMessage } from './outbox.ts';
import { cases, estimates, views } from './schema.ts';

type CaseRow = typeof cases.$inferSelect;
type ViewRow = typeof views.$inferSelect;
type EstimateRow = typeof estimates.$inferSelect;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Stores a finished scan (case, views, estimate revision 1) and queues `outboxMessages` in one
 * transaction, so on any error nothing is written. Throws BvEdgeError CASE_EXISTS when the case
 * id is already stored and INVALID_SCAN_RECORD when the record cannot be stored as given.
 */
export function saveScan(store: Store, record: ScanRecord, outboxMessages: OutboxMessage[]): void {
  validateRecord(record);
  // IMMEDIATE takes the write lock before the duplicate check, so no other process can insert
  // the same case between the check and the insert.
  store.db.transaction(
    (tx) => {
      rejectExistingCase(tx, store.path, record.caseId);
      tx.insert(cases).values(toCaseRow(record)).run();
      if (record.views.length > 0) {
        const rows = record.views.map((view, position) => toViewRow(record.caseId, view, position));
        tx.insert(views).values(rows).run();
      }
      tx.insert(estimates).values(toEstimateRow(record)).run();
      for (const message of outboxMessages) enqueue(tx, message);
    },
    { behavior: 'immediate' },
  );
}

/**
 * Returns the stored scan of `caseId` with its latest estimate revision, or null when the case is
 * not stored. View sources come back as file names without folders, as stored.
 */
export function getCase(store: Store, caseId: string): ScanRecord | null {
  return readCase(store.db, store.path, caseId);
}

/** Reads a case as getCase does, through `executor`, so that a transaction can read it too. */
export function readCase(executor: StoreExecutor, path: string, caseId: string): ScanRecord | null {
  const caseRow = executor.select().from(cases).where(eq(cases.caseId, caseId)).get();
  if (!caseRow) return null;
  const viewRows = executor
    .select()
    .from(views)
    .where(eq(views.caseId, caseId))
    .orderBy(asc(views.position))
    .all();
  const estimateRow = executor
    .select()
    .from(estimates)
    .where(eq(estimates.caseId, caseId))
    .orderBy(desc(estimates.revision))
    .limit(1)
    .get();
  if (!estimateRow) {
    throw new BvEdgeError(
      'STORE_INCONSISTENT',
      `Case ${caseId} in ${path} has no estimate row; the database was edited outside ` +
        'bv-edge. Restore it from a backup or delete the case.',
      { value: caseId },
    );
  }
  return toScanRecord(caseRow, viewRows, estimateRow);
}

export function countCases(store: Store): number {
  const row = store.db
    .select({ count: sql<number>`count(*)` })
    .from(cases)
    .get();
  return row?.count ?? 0;
}

function rejectExistingCase(executor: StoreExecutor, path: string, caseId: string): void {
  const existing = executor
    .select({ caseId: cases.caseId })
    .from(cases)
    .where(eq(cases.caseId, caseId))
    .get();
  if (!existing) return;
  throw new BvEdgeError(
    'CASE_EXISTS',
    `Case ${caseId} is already stored in ${path}. Stored cases are never overwritten; ` +
      'scan again under a new case id.',
    { value: caseId },
  );
}

function validateRecord(record: ScanRecord): void {
  if (record.caseId.trim() === '') {
    throw invalidRecord('caseId is empty. Enter the pseudonymous case id of the scan.', '');
  }
  if (!UUID_PATTERN.test(record.estimateId)) {
    throw invalidRecord(`estimateId ${record.estimateId} is not a UUID.`, record.estimateId);
  }
  if (Number.isNaN(Date.parse(record.createdAt))) {
    throw invalidRecord(`createdAt ${record.createdAt} is not an ISO 8601 time.`, record.createdAt);
  }
  rejectDuplicateViews(record);
  rejectNonFiniteEstimate(record.estimate);
  rejectInvalidHemoglobin(record.hbPreopGdl);
  rejectInvalidPopulation(record.estimate.population);
}

function rejectInvalidHemoglobin(hbPreopGdl: number | undefined): void {
  if (hbPreopGdl === undefined) return;
  const { min, max } = ANH_LIMITS.hemoglobinGdl;
  if (!Number.isFinite(hbPreopGdl) || hbPreopGdl < min || hbPreopGdl > max) {
    const detail = `hbPreopGdl ${hbPreopGdl} g/dL is outside ${min}–${max} g/dL.`;
    throw invalidRecord(detail, hbPreopGdl);
  }
}

function rejectInvalidPopulation(population: PopulationFlag): void {
  const reasonsValid =
    Array.isArray(population.reasons) &&
    population.reasons.every((reason: unknown) => readNotice(reason) !== undefined);
  if (typeof population.inPopulation !== 'boolean' || !reasonsValid) {
    throw invalidRecord(
      'estimate.population needs a boolean inPopulation and a list of reason notices.',
      population,
    );
  }
  if (!population.inPopulation && population.reasons.length === 0) {
    throw invalidRecord(
      'estimate.population is outside the population but gives no reason. ' +
        'Store the reasons that checkPopulation returns.',
      population,
    );
  }
}

function rejectDuplicateViews(record: ScanRecord): void {
  const seen = new Set<string>();
  for (const view of record.views) {
    if (seen.has(view.view)) {
      throw invalidRecord(
        `case ${record.caseId} has view ${view.view} twice. Keep one clip per view.`,
        view.view,
      );
    }
    seen.add(view.view);
  }
}

function rejectNonFiniteEstimate(estimate: Estimate): void {
  const fields = ['bvMl', 'bvMlPerKg', 'lowerMl', 'upperMl', 'nadlerMl'] as const;
  for (const field of fields) {
    if (!Number.isFinite(estimate[field])) {
      throw invalidRecord(`estimate.${field} is ${estimate[field]}, expected a finite number.`, {
        field,
        value: estimate[field],
      });
    }
  }
}

function invalidRecord(detail: string, value: unknown): BvEdgeError {
  return new BvEdgeError('INVALID_SCAN_RECORD', `Invalid scan record: ${detail}`, { value });
}

function toCaseRow(record: ScanRecord): typeof cases.$inferInsert {
  const { heightCm, weightKg, sex, ageYears } = record.covariates;
  return {
    caseId: record.caseId,
    createdAt: record.createdAt,
    heightCm,
    weightKg,
    sex,
    ageYears: ageYears ?? null,
    hbPreopGdl: record.hbPreopGdl ?? null,
  };
}

function toViewRow(caseId: string, view: ViewResult, position: number): typeof views.$inferInsert {
  return {
    caseId,
    view: view.view,
    position,
    sourceFile: basename(view.source),
    imageX: view.imageArea.x,
    imageY: view.imageArea.y,
    imageWidth: view.imageArea.width,
    imageHeight: view.imageArea.height,
    seedX: view.seed.x,
    seedY: view.seed.y,
    seeded: view.seeded,
    frameCount: view.frameCount,
    fps: view.fps,
    durationS: view.durationS,
    mmPerPixel: view.mmPerPixel,
    measurements: view.measurements,
    areaSeriesMm2: view.areaSeriesMm2,
    features: view.features,
  };
}

function toEstimateRow(record: ScanRecord): typeof estimates.$inferInsert {
  const estimate = record.estimate;
  return {
    estimateId: record.estimateId,
    caseId: record.caseId,
    revision: 1,
    bvMl: estimate.bvMl,
    bvMlPerKg: estimate.bvMlPerKg,
    lowerMl: estimate.lowerMl,
    upperMl: estimate.upperMl,
    nadlerMl: estimate.nadlerMl,
    modelName: estimate.modelName,
    modelVersion: estimate.modelVersion,
    intendedUse: estimate.intendedUse,
    notice: estimate.notice,
    executionProvider: estimate.executionProvider,
    createdAt: record.createdAt,
    inPopulation: estimate.population.inPopulation,
    // A record kept from before notices existed can still contain English sentences.
    populationReasons: estimate.population.reasons.map((reason: unknown) => readNotice(reason)!),
    noticeTranslations: estimate.noticeTranslations ?? null,
  };
}

function toScanRecord(caseRow: CaseRow, viewRows: ViewRow[], estimateRow: EstimateRow): ScanRecord {
  const record: ScanRecord = {
    caseId: caseRow.caseId,
    estimateId: estimateRow.estimateId,
    createdAt: caseRow.createdAt,
    covariates: toCovariates(caseRow),
    views: viewRows.map(toViewResult),
    estimate: toEstimate(estimateRow),
  };
  if (caseRow.hbPreopGdl !== null) record.hbPreopGdl = caseRow.hbPreopGdl;
  return record;
}

function toCovariates(row: CaseRow): Covariates {
  const covariates: Covariates = { heightCm: row.heightCm, weightKg: row.weightKg, sex: row.sex };
  if (row.ageYears !== null) covariates.ageYears = row.ageYears;
  return covariates;
}

function toViewResult(row: ViewRow): ViewResult {
  return {
    view: row.view,
    source: row.sourceFile,
    imageArea: { x: row.imageX, y: row.imageY, width: row.imageWidth, height: row.imageHeight },
    seed: { x: row.seedX, y: row.seedY },
    seeded: row.seeded,
    frameCount: row.frameCount,
    fps: row.fps,
    durationS: row.durationS,
    mmPerPixel: row.mmPerPixel,
    measurements: row.measurements,
    areaSeriesMm2: nullToNaN(row.areaSeriesMm2),
    features: nullToNaN(row.features),
  };
}

function toEstimate(row: EstimateRow): Estimate {
  const estimate: Estimate = {
    bvMl: row.bvMl,
    bvMlPerKg: row.bvMlPerKg,
    lowerMl: row.lowerMl,
    upperMl: row.upperMl,
    nadlerMl: row.nadlerMl,
    modelName: row.modelName,
    modelVersion: row.modelVersion,
    intendedUse: row.intendedUse,
    notice: row.notice,
    executionProvider: row.executionProvider,
    population: {
      inPopulation: row.inPopulation,
      reasons: readStoredNotices(row.populationReasons),
    },
  };
  if (row.noticeTranslations !== null) estimate.noticeTranslations = row.noticeTranslations;
  return estimate;
}

/** The reason that the column default gives rows stored before the population check existed. */
const NOT_CHECKED_REASON = 'population not checked: estimate stored before the check existed';

/**
 * Reads the notices of a JSON column. An English sentence from a row written before notices
 * existed becomes a plain notice, except the not-checked reason of the column default, which has
 * its own key. A value that is neither is kept as its JSON text, so that no stored text is lost.
 */
export function readStoredNotices(values: readonly unknown[]): Notice[] {
  return values.map((value) => {
    if (value === NOT_CHECKED_REASON) return notice('notice.population.notChecked');
    return readNotice(value) ?? plainNotice(JSON.stringify(value));
  });
}

/** JSON.stringify writes NaN and ±Infinity as null; they read back as NaN. */
function nullToNaN(values: (number | null)[]): number[] {
  return values.map((value) => value ?? Number.NaN);
}
