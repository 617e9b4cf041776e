import { randomUUID } from 'node:crypto';

import { and, asc, eq } from 'drizzle-orm';

import {
  computeAnhLabel,
  computeAnhLabels,
  type AnhLabel,
  type AnhMethod,
  type AnhOptions,
  type AnhRecord,
} from '../clinical/anh.ts';
import { checkPopulation } from '../clinical/population.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { Notice } from '../core/notice.ts';
import { trainingTopic } from '../mqtt/topics.ts';
import { notice } from '../notices/index.ts';
import { trainingRecordMessage } from '../mqtt/training.ts';
import type { PopulationFlag, ScanRecord } from '../scan/types.ts';
import { appendAudit } from './audit.ts';
import type { Store, StoreExecutor } from './db.ts';
import { enqueue } from './outbox.ts';
import { readCase, readStoredNotices } from './scans.ts';
import { anhLabels } from './schema.ts';

/** One ANH entry by the study coordinator. */
export interface LabelEntry {
  /** Pseudonymous case id of a stored scan. */
  caseId: string;
  record: AnhRecord;
  /** The method to store. Without it, every method the record supports is stored. */
  method?: string;
  /** Name or login of the person entering the values, for the audit log only. */
  enteredBy: string;
}

export interface LabelEntryOptions extends AnhOptions {
  /** MQTT topic base, ending in "/", under which the training records are queued. */
  topicBase: string;
  /** Site anticoagulant per bag, mL, used when the record gives none. */
  anticoagulantMlPerBag?: number;
  /** Site factor for the weight-based reference volume, mL/kg. Defaults to 70 mL/kg. */
  weightBasedMlPerKg?: number;
  /** Time of the entry, by default the current time. */
  now?: Date;
}

/** A label as stored: one row per case and method, its revision raised by every edit. */
export interface StoredLabel extends AnhLabel {
  labelId: string;
  caseId: string;
  enteredBy: string;
  enteredAt: string;
  revision: number;
}

export interface LabelEntryResult {
  labels: StoredLabel[];
  /** The population check carried by the training records (see trainingPopulation). */
  population: PopulationFlag;
  /** Message ids of the training records queued in the outbox, one per label. */
  messageIds: string[];
}

/** Longest accepted `enteredBy`, characters. It rejects pasted text, not real names. */
const MAX_ENTERED_BY_LENGTH = 100;

/**
 * Validates an ANH entry, computes its labels, and stores each label, its audit entry and its
 * training record in the outbox in one transaction, so a rejected entry stores nothing. An entry
 * for a case and method that already has a label replaces it with the next revision, and the
 * audit log keeps the earlier value. Throws `label_entry_invalid` for a bad `enteredBy`,
 * `anh_record_invalid` or `anh_method_unknown` from the ANH validation, and `case_unknown` when
 * no scan is stored under the case id.
 */
export function enterLabel(
  store: Store,
  entry: LabelEntry,
  options: LabelEntryOptions,
): LabelEntryResult {
  const enteredBy = checkEnteredBy(entry.enteredBy);
  const topic = trainingTopic(options.topicBase);
  const computed = computeLabels(entry, options);
  const enteredAt = (options.now ?? new Date()).toISOString();
  // IMMEDIATE takes the write lock before the reads, so no other writer can add a revision of
  // the same label between the read and the write.
  return store.db.transaction(
    (tx) => {
      const scan = requireCase(tx, store.path, entry.caseId);
      const population = trainingPopulation(scan, computed[0]!);
      const labels = computed.map((label) =>
        upsertLabel(tx, { ...label, caseId: scan.caseId, enteredBy, enteredAt }),
      );
      const messageIds = labels.map((label) => {
        const recordId = randomUUID();
        const payload = trainingRecordMessage(scan, label, {
          recordId,
          createdAt: enteredAt,
          population,
          ...(options.weightBasedMlPerKg !== undefined && {
            weightBasedMlPerKg: options.weightBasedMlPerKg,
          }),
        });
        enqueue(tx, { topic, payload, kind: 'training', messageId: recordId });
        return recordId;
      });
      return { labels, population, messageIds };
    },
    { behavior: 'immediate' },
  );
}

/**
 * Returns the current labels of a case, one per method, ordered by method name. Warnings stored
 * as English sentences, before notices existed, read as plain notices.
 */
export function getLabels(executor: StoreExecutor, caseId: string): StoredLabel[] {
  return executor
    .select()
    .from(anhLabels)
    .where(eq(anhLabels.caseId, caseId))
    .orderBy(asc(anhLabels.method))
    .all()
    .map(toStoredLabel);
}

function toStoredLabel(row: typeof anhLabels.$inferSelect): StoredLabel {
  return { ...row, warnings: readStoredNotices(row.warnings) };
}

/**
 * Checks the study population for a labelled case. The Hb before ANH is drawn in theatre before
 * any blood is withdrawn, so it is used when no preoperative Hb was entered at the cart.
 * NOTE: that sample follows induction of anaesthesia and may read lower than a ward sample, so a
 * case near 10 g/dL can be flagged here and not at the ward.
 */
export function trainingPopulation(scan: ScanRecord, label: AnhLabel): PopulationFlag {
  const hbBeforeGdl = scan.hbPreopGdl ?? label.inputsCanonical.hbBeforeGdl;
  const check = checkPopulation({ covariates: scan.covariates, hbBeforeGdl });
  return { inPopulation: check.inPopulation, reasons: check.reasons };
}

function checkEnteredBy(enteredBy: string): string {
  const trimmed = typeof enteredBy === 'string' ? enteredBy.trim() : '';
  const printable = !/\p{Cc}/u.test(trimmed);
  if (trimmed === '' || trimmed.length > MAX_ENTERED_BY_LENGTH || !printable) {
    const invalid = notice('notice.label.enteredByInvalid', {
      value: String(JSON.stringify(enteredBy)),
      max: MAX_ENTERED_BY_LENGTH,
    });
    throw new BvEdgeError('label_entry_invalid', invalid, { value: enteredBy });
  }
  return trimmed;
}

function computeLabels(entry: LabelEntry, options: LabelEntryOptions): AnhLabel[] {
  const record: AnhRecord = {
    ...entry.record,
    anticoagulantMlPerBag: entry.record.anticoagulantMlPerBag ?? options.anticoagulantMlPerBag,
  };
  const anhOptions: AnhOptions = {};
  if (options.minEquilibrationMinutes !== undefined) {
    anhOptions.minEquilibrationMinutes = options.minEquilibrationMinutes;
  }
  if (entry.method === undefined) return computeAnhLabels(record, anhOptions);
  // computeAnhLabel rejects a method outside ANH_METHODS with anh_method_unknown.
  return [computeAnhLabel(record, entry.method as AnhMethod, anhOptions)];
}

function requireCase(executor: StoreExecutor, path: string, caseId: string): ScanRecord {
  const scan = readCase(executor, path, caseId);
  if (scan) return scan;
  const unknown = notice('notice.label.caseUnknown', { value: String(JSON.stringify(caseId)) });
  throw new BvEdgeError('case_unknown', unknown, { value: caseId });
}

type NewLabel = Omit<StoredLabel, 'labelId' | 'revision'>;

/** Inserts the label, or replaces the case's label of the same method, and audits the change. */
function upsertLabel(executor: StoreExecutor, label: NewLabel): StoredLabel {
  const previousRow = executor
    .select()
    .from(anhLabels)
    .where(and(eq(anhLabels.caseId, label.caseId), eq(anhLabels.method, label.method)))
    .get();
  const previous = previousRow && toStoredLabel(previousRow);
  const stored: StoredLabel = previous
    ? {
        ...label,
        labelId: previous.labelId,
        revision: previous.revision + 1,
        warnings: [...label.warnings, ...revisionWarnings(previous, label)],
      }
    : { ...label, labelId: randomUUID(), revision: 1 };
  if (previous) {
    executor.update(anhLabels).set(stored).where(eq(anhLabels.labelId, previous.labelId)).run();
  } else {
    executor.insert(anhLabels).values(stored).run();
  }
  appendAudit(executor, {
    actor: label.enteredBy,
    at: label.enteredAt,
    action: previous ? 'label.update' : 'label.create',
    caseId: label.caseId,
    before: previousRow ?? null,
    after: stored,
  });
  return stored;
}

/**
 * Largest change of a label's BV between revisions, as a fraction of the previous BV, that passes
 * without a warning. Chosen here, not a published limit: a larger change more likely comes from a
 * wrong value or unit than from a correction, so the coordinator is asked to check it.
 */
const MAX_REVISION_BV_CHANGE = 0.2;

function revisionWarnings(previous: StoredLabel, label: NewLabel): Notice[] {
  const change = (label.bvMl - previous.bvMl) / previous.bvMl;
  if (!(Math.abs(change) > MAX_REVISION_BV_CHANGE)) return [];
  return [
    notice('notice.label.revisionChange', {
      value: Math.round(label.bvMl),
      percent: Math.round(Math.abs(change) * 100),
      direction: change > 0 ? 'above' : 'below',
      previous: Math.round(previous.bvMl),
      revision: previous.revision,
    }),
  ];
}
