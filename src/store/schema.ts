import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
  unique,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core';

import type { AnhInputsCanonical } from '../clinical/anh.ts';
import type { AuditAction } from './audit-actions.ts';
import type { ViewName } from '../core/image.ts';
import type { Notice } from '../core/notice.ts';
import type { Covariates, ViewMeasurements, ViewResult } from '../scan/types.ts';
import {
  CASE_STATUSES,
  WORKFLOW_STEPS,
  type CaseEstimate,
  type ViewAttempt,
} from '../workflow/types.ts';

// Times are ISO 8601 UTC text, e.g. "2025-01-31T09:15:00.000Z", so rows read the same in the
// sqlite3 shell as in ScanRecord.

/** One scanned patient, known only by a pseudonymous case id. */
export const cases = sqliteTable(
  'cases',
  {
    caseId: text('case_id').primaryKey(),
    createdAt: text('created_at').notNull(),
    heightCm: real('height_cm').notNull(),
    weightKg: real('weight_kg').notNull(),
    sex: text('sex', { enum: ['female', 'male'] }).notNull(),
    ageYears: real('age_years'),
    /** Preoperative hemoglobin, g/dL, when entered at the cart. The population check needs it. */
    hbPreopGdl: real('hb_preop_gdl'),
  },
  (table) => [
    check('cases_case_id_not_empty', sql`length(${table.caseId}) > 0`),
    check('cases_sex_valid', sql`${table.sex} in ('female', 'male')`),
    check('cases_height_positive', sql`${table.heightCm} > 0`),
    check('cases_weight_positive', sql`${table.weightKg} > 0`),
  ],
);

/** One ultrasound view of a case. `position` is the view's index in ScanRecord.views. */
export const views = sqliteTable(
  'views',
  {
    caseId: text('case_id')
      .notNull()
      .references(() => cases.caseId, { onDelete: 'cascade' }),
    view: text('view', { enum: ['ijv', 'scv', 'ivc', 'ca'] }).notNull(),
    position: integer('position').notNull(),
    /** File name of the clip without its folder, because folder names can identify the patient. */
    sourceFile: text('source_file').notNull(),
    imageX: integer('image_x').notNull(),
    imageY: integer('image_y').notNull(),
    imageWidth: integer('image_width').notNull(),
    imageHeight: integer('image_height').notNull(),
    seedX: real('seed_x').notNull(),
    seedY: real('seed_y').notNull(),
    seeded: integer('seeded', { mode: 'boolean' }).notNull(),
    frameCount: integer('frame_count').notNull(),
    fps: real('fps').notNull(),
    durationS: real('duration_s').notNull(),
    mmPerPixel: real('mm_per_pixel').notNull(),
    measurements: text('measurements', { mode: 'json' }).$type<ViewMeasurements>().notNull(),
    /** Lumen area per frame in mm². JSON has no NaN, so NaN values are stored as null. */
    areaSeriesMm2: text('area_series_mm2', { mode: 'json' }).$type<(number | null)[]>().notNull(),
    features: text('features', { mode: 'json' }).$type<(number | null)[]>().notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.caseId, table.view] }),
    check('views_view_valid', sql`${table.view} in ('ijv', 'scv', 'ivc', 'ca')`),
  ],
);

/** A blood-volume estimate of a case. A re-analysis would add a row with the next revision. */
export const estimates = sqliteTable(
  'estimates',
  {
    estimateId: text('estimate_id').primaryKey(),
    caseId: text('case_id')
      .notNull()
      .references(() => cases.caseId, { onDelete: 'cascade' }),
    revision: integer('revision').notNull().default(1),
    bvMl: real('bv_ml').notNull(),
    bvMlPerKg: real('bv_ml_per_kg').notNull(),
    lowerMl: real('lower_ml').notNull(),
    upperMl: real('upper_ml').notNull(),
    nadlerMl: real('nadler_ml').notNull(),
    modelName: text('model_name').notNull(),
    modelVersion: text('model_version').notNull(),
    intendedUse: text('intended_use').notNull(),
    notice: text('notice').notNull(),
    executionProvider: text('execution_provider').notNull(),
    createdAt: text('created_at').notNull(),
    /**
     * Whether the patient met every inclusion criterion of the study population at scan time.
     * Rows written before the check existed read as not confirmed, which flags them.
     */
    inPopulation: integer('in_population', { mode: 'boolean' }).notNull().default(false),
    /**
     * One notice per failed or unconfirmed criterion, empty when in the population. Rows written
     * before notices existed contain English sentences.
     */
    populationReasons: text('population_reasons', { mode: 'json' })
      .$type<(Notice | string)[]>()
      .notNull()
      .default(sql`'["population not checked: estimate stored before the check existed"]'`),
    /**
     * Translations of `notice` by BCP 47 tag from the bundle's manifest. Null when the bundle
     * has none and in rows stored before translations were kept.
     */
    noticeTranslations: text('notice_translations', { mode: 'json' }).$type<
      Record<string, string>
    >(),
  },
  (table) => [
    unique('estimates_case_revision').on(table.caseId, table.revision),
    check('estimates_revision_positive', sql`${table.revision} >= 1`),
  ],
);

/**
 * The blood-volume label of a case from acute normovolemic hemodilution, one row per case and
 * method. An edit overwrites the row and raises `revision`; the earlier value stays in audit_log.
 */
export const anhLabels = sqliteTable(
  'anh_labels',
  {
    labelId: text('label_id').primaryKey(),
    caseId: text('case_id')
      .notNull()
      .references(() => cases.caseId),
    method: text('method', {
      enum: ['single-step', 'continuous-exchange', 'bag-hemoglobin'],
    }).notNull(),
    /** Total blood volume before ANH, mL, unrounded. */
    bvMl: real('bv_ml').notNull(),
    /** The validated inputs in canonical units (g/dL, mL, minutes), as AnhInputsCanonical. */
    inputsCanonical: text('inputs_canonical', { mode: 'json' })
      .$type<AnhInputsCanonical>()
      .notNull(),
    /** Notices of the label. Rows written before notices existed contain English sentences. */
    warnings: text('warnings', { mode: 'json' }).$type<(Notice | string)[]>().notNull(),
    enteredBy: text('entered_by').notNull(),
    enteredAt: text('entered_at').notNull(),
    revision: integer('revision').notNull().default(1),
  },
  (table) => [
    unique('anh_labels_case_method').on(table.caseId, table.method),
    check(
      'anh_labels_method_valid',
      sql`${table.method} in ('single-step', 'continuous-exchange', 'bag-hemoglobin')`,
    ),
    check('anh_labels_bv_positive', sql`${table.bvMl} > 0`),
    check('anh_labels_entered_by_not_empty', sql`length(${table.enteredBy}) > 0`),
    check('anh_labels_revision_positive', sql`${table.revision} >= 1`),
  ],
);

/**
 * Audit trail of changes made by people and by the fleet: labels, configuration, capture restarts,
 * model installs. Rows are only inserted. `action` is "<area>.<verb>", e.g. "label.update".
 */
export const auditLog = sqliteTable(
  'audit_log',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    /** Name or login of the person, or "fleet:<client>" for a request over MQTT. */
    actor: text('actor').notNull(),
    at: text('at').notNull(),
    action: text('action').$type<AuditAction>().notNull(),
    /** The case the change belongs to; null for device-wide changes such as configuration. */
    caseId: text('case_id').references(() => cases.caseId),
    /** The state before the change, JSON; null for a creation. */
    before: text('before', { mode: 'json' }).$type<unknown>(),
    /** The state after the change, JSON. */
    after: text('after', { mode: 'json' }).$type<unknown>().notNull(),
  },
  (table) => [
    check('audit_log_actor_not_empty', sql`length(${table.actor}) > 0`),
    check('audit_log_action_format', sql`${table.action} glob '[a-z]*.[a-z]*'`),
  ],
);

/** MQTT messages waiting for the broker's acknowledgement. A row is deleted once acknowledged. */
export const outbox = sqliteTable(
  'outbox',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    messageId: text('message_id').notNull().unique(),
    /** Message class (MESSAGE_KINDS in outbox.ts), which decides what the bounds may drop. */
    kind: text('kind').notNull().default('estimate'),
    topic: text('topic').notNull(),
    /** JSON text, published byte for byte. */
    payload: text('payload').notNull(),
    qos: integer('qos').notNull().default(1),
    createdAt: text('created_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
  },
  (table) => [
    check('outbox_topic_not_empty', sql`length(${table.topic}) > 0`),
    check('outbox_qos_valid', sql`${table.qos} in (0, 1, 2)`),
    check(
      'outbox_kind_valid',
      sql`${table.kind} in ('estimate', 'training', 'event', 'telemetry')`,
    ),
    index('outbox_kind_created').on(table.kind, table.createdAt),
  ],
);

/**
 * Cases of the scan workflow: the one being scanned (`open`, at most one) and how earlier ones
 * ended. Recording and analysis cannot resume after a restart, so a case stored in those steps
 * reopens idle. A closed case's scan is in `cases`, `views` and `estimates`.
 */
export const workflowCases = sqliteTable(
  'workflow_cases',
  {
    caseId: text('case_id').primaryKey(),
    status: text('status', { enum: CASE_STATUSES }).notNull(),
    step: text('step', { enum: WORKFLOW_STEPS }).notNull(),
    activeView: text('active_view', { enum: ['ijv', 'scv', 'ivc', 'ca'] }),
    covariates: text('covariates', { mode: 'json' }).$type<Covariates>().notNull(),
    hbPreopGdl: real('hb_preop_gdl'),
    requiredViews: text('required_views', { mode: 'json' }).$type<ViewName[]>().notNull(),
    /** The attempt under review, JSON; NaN values are stored as null. */
    pendingAttempt: text('pending_attempt', { mode: 'json' }).$type<ViewAttempt>(),
    estimate: text('estimate', { mode: 'json' }).$type<CaseEstimate>(),
    openedAt: text('opened_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    /** When the case was closed or abandoned. */
    endedAt: text('ended_at'),
  },
  (table) => [
    check('workflow_cases_case_id_not_empty', sql`length(${table.caseId}) > 0`),
    check('workflow_cases_status_valid', sql`${table.status} in ('open', 'closed', 'abandoned')`),
    check(
      'workflow_cases_step_valid',
      sql`${table.step} in ('idle', 'recording', 'analysing', 'review')`,
    ),
    uniqueIndex('workflow_cases_one_open')
      .on(table.status)
      .where(sql`status = 'open'`),
  ],
);

/** Views the operator accepted for an open workflow case, one row per view. */
export const workflowViews = sqliteTable(
  'workflow_views',
  {
    caseId: text('case_id')
      .notNull()
      .references(() => workflowCases.caseId, { onDelete: 'cascade' }),
    view: text('view', { enum: ['ijv', 'scv', 'ivc', 'ca'] }).notNull(),
    attemptId: text('attempt_id').notNull(),
    acceptedAt: text('accepted_at').notNull(),
    /** The ViewResult, JSON; NaN values are stored as null. */
    result: text('result', { mode: 'json' }).$type<ViewResult>().notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.caseId, table.view] }),
    check('workflow_views_view_valid', sql`${table.view} in ('ijv', 'scv', 'ivc', 'ca')`),
  ],
);

/**
 * One bundle install attempt and its outcome. The audit log has the activations and rollbacks;
 * this table also keeps the installs that were rejected before their manifest could be read.
 */
export const modelInstalls = sqliteTable(
  'model_installs',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    source: text('source', { enum: ['file', 'url', 'chunks'] }).notNull(),
    /** SHA-256 of the archive, hex; null until it is known. */
    archiveSha256: text('archive_sha256'),
    name: text('name'),
    version: text('version'),
    /** Id of the trusted key whose signature verified. */
    keyId: text('key_id'),
    state: text('state', { enum: ['installing', 'installed', 'rejected'] }).notNull(),
    /** BvEdgeError code of a rejection. */
    reasonCode: text('reason_code'),
    reason: text('reason'),
    startedAt: text('started_at').notNull(),
    finishedAt: text('finished_at'),
  },
  (table) => [
    check('model_installs_source_valid', sql`${table.source} in ('file', 'url', 'chunks')`),
    check(
      'model_installs_state_valid',
      sql`${table.state} in ('installing', 'installed', 'rejected')`,
    ),
  ],
);

/**
 * A bundle archive arriving in numbered chunks over MQTT. Chunks are appended in order, so the
 * received prefix of the file is `received_bytes` long and the next chunk expected is
 * `next_index`; a transfer resumes from there after a disconnect or restart.
 */
export const modelTransfers = sqliteTable(
  'model_transfers',
  {
    transferId: text('transfer_id').primaryKey(),
    /** Archive size, bytes. */
    size: integer('size').notNull(),
    /** SHA-256 of the whole archive, hex. */
    sha256: text('sha256').notNull(),
    /** Size of every chunk but the last, bytes. */
    chunkSize: integer('chunk_size').notNull(),
    chunkCount: integer('chunk_count').notNull(),
    nextIndex: integer('next_index').notNull(),
    receivedBytes: integer('received_bytes').notNull(),
    /** Whether to activate the bundle once installed. */
    activate: integer('activate', { mode: 'boolean' }).notNull(),
    /** Audit actor of the request that started the transfer. */
    requestedBy: text('requested_by').notNull(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (table) => [
    check(
      'model_transfers_id_format',
      sql`${table.transferId} not glob '*[^A-Za-z0-9_-]*' and length(${table.transferId}) between 1 and 64`,
    ),
    check(
      'model_transfers_progress_valid',
      sql`${table.nextIndex} between 0 and ${table.chunkCount} and ${table.receivedBytes} between 0 and ${table.size}`,
    ),
  ],
);

/**
 * HL7 ORU^R01 messages to the anesthesia information system, one per pushed estimate, in send
 * order. `message` is the HL7 text with PID-3 empty: the MRN lives only in hl7_mrns and is put in
 * at send time. Delivered and rejected rows stay as the record of what was sent.
 */
export const hl7Outbox = sqliteTable(
  'hl7_outbox',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    /** MSH-10, unique per message and the same for every retry. */
    controlId: text('control_id').notNull().unique(),
    caseId: text('case_id').notNull(),
    estimateId: text('estimate_id').notNull().unique(),
    message: text('message').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'rejected'] })
      .notNull()
      .default('pending'),
    createdAt: text('created_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** Earliest time of the next send while pending. */
    nextAttemptAt: text('next_attempt_at').notNull(),
    /** Transport error of the last failed attempt, or the error text of an AE or AR. */
    lastError: text('last_error'),
    /** MSA-1 of the acknowledgement: AA, AE, AR (or CA, CE, CR). */
    ackCode: text('ack_code'),
    ackedAt: text('acked_at'),
  },
  (table) => [
    check('hl7_outbox_status_valid', sql`${table.status} in ('pending', 'delivered', 'rejected')`),
    check('hl7_outbox_control_id_not_empty', sql`length(${table.controlId}) > 0`),
    index('hl7_outbox_pending').on(table.status, table.seq),
  ],
);

/**
 * The MRN entered for a case, kept only for its HL7 push. `delete_after` is null while a message
 * of the case waits for its acknowledgement; otherwise the row is deleted at that time.
 */
export const hl7Mrns = sqliteTable(
  'hl7_mrns',
  {
    caseId: text('case_id').primaryKey(),
    mrn: text('mrn').notNull(),
    enteredAt: text('entered_at').notNull(),
    deleteAfter: text('delete_after'),
  },
  (table) => [check('hl7_mrns_mrn_not_empty', sql`length(${table.mrn}) > 0`)],
);
