import { sql } from 'drizzle-orm';
import {
  check,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
  unique,
} from 'drizzle-orm/sqlite-core';

import type { ViewMeasurements } from '../scan/types.ts';

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
  },
  (table) => [
    unique('estimates_case_revision').on(table.caseId, table.revision),
    check('estimates_revision_positive', sql`${table.revision} >= 1`),
  ],
);

/** MQTT messages waiting for the broker's acknowledgement. A row is deleted once acknowledged. */
export const outbox = sqliteTable(
  'outbox',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    messageId: text('message_id').notNull().unique(),
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
  ],
);
