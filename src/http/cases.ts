import { desc, gte, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';

import { ANH_LIMITS, ANH_METHODS } from '../clinical/anh.ts';
import {
  HEMOGLOBIN_UNITS,
  hemoglobinFromGdl,
  hemoglobinToGdl,
  type HemoglobinUnit,
} from '../clinical/units.ts';
import type { Logger } from '../core/log.ts';
import type { CaseHl7Delivery } from '../hl7/status.ts';
import { ESTIMATE_SCHEMA } from '../mqtt/payload.ts';
import { notice, noticeMessage } from '../notices/index.ts';
import type { ScanRecord } from '../scan/types.ts';
import { getCase, type Store } from '../store/index.ts';
import { enterLabel, getLabels, type LabelEntryOptions } from '../store/labels.ts';
import { anhLabels, cases, estimates, outbox } from '../store/schema.ts';
import { errorProblem, fieldErrors, ProblemError, readJsonBody } from './problem.ts';

export interface CasesApiOptions {
  store: Store;
  /** Site settings of the label entry: topic base, anticoagulant per bag, equilibration time. */
  labelOptions: Omit<LabelEntryOptions, 'now'>;
  /** Called after labels are stored, so that the outbox publisher sends their training records. */
  onLabelsStored?: () => void;
  /** Reads the HL7 delivery of a closed case; without it, HL7 shows as not configured. */
  hl7Delivery?: (record: ScanRecord) => CaseHl7Delivery;
  /** Clock for the recent-cases window; tests may pass their own. */
  now?: () => Date;
  logger: Logger;
}

/** Days of closed cases that GET /api/cases lists by default, and the most it accepts. */
export const RECENT_CASE_DAYS = { default: 7, max: 90 } as const;

/** Maximum number of cases that GET /api/cases returns, newest first. */
const RECENT_CASE_LIMIT = 100;

const RecentQuery = z.strictObject({
  days: z.coerce
    .number({ message: noticeMessage('notice.cases.field.days.number') })
    .int(noticeMessage('notice.cases.field.days.whole'))
    .min(1, noticeMessage('notice.cases.field.days.min'))
    .max(
      RECENT_CASE_DAYS.max,
      noticeMessage('notice.cases.field.days.max', { max: RECENT_CASE_DAYS.max }),
    )
    .default(RECENT_CASE_DAYS.default),
});

/** One closed case in GET /api/cases. */
export interface RecentCase {
  caseId: string;
  /** ISO 8601 time the scan was stored. */
  createdAt: string;
  bvMl: number;
  inPopulation: boolean;
  /** Stored ANH labels of the case, one per method. */
  labelCount: number;
}

type Limit = { min: number; max: number; minExclusive?: boolean };

/** Builds the schema of a number within an ANH_LIMITS range, with the range in its messages. */
function limited(limit: Limit, unit: string) {
  const { min, max } = limit;
  const base = z.number({ message: noticeMessage('notice.cases.field.numberIn', { unit }) });
  const lower = limit.minExclusive
    ? base.gt(min, { message: noticeMessage('notice.cases.field.above', { min, unit }) })
    : base.min(min, { message: noticeMessage('notice.cases.field.atLeast', { min, unit }) });
  return lower.max(max, { message: noticeMessage('notice.cases.field.atMost', { max, unit }) });
}

/**
 * Returns the message of an Hb outside the accepted range, with its notice. The range is in
 * `unit`, and for other units than g/dL also in g/dL, e.g. "expected 3–25 g/dL" or
 * "expected 1.86–15.52 mmol/L (3–25 g/dL)".
 */
function hemoglobinRangeMessage(unit: HemoglobinUnit): string {
  const { min, max } = ANH_LIMITS.hemoglobinGdl;
  if (unit === 'g/dL') return noticeMessage('notice.cases.field.hbRange', { min, max });
  // Rounded to two decimals, as the label entry's own check states the range.
  const inUnit = (gdl: number) => Number(hemoglobinFromGdl(gdl, unit).toFixed(2));
  return noticeMessage('notice.cases.field.hbRangeConverted', {
    min: inUnit(min),
    max: inUnit(max),
    unit,
    minGdl: min,
    maxGdl: max,
  });
}

const NUMBER_MESSAGE = noticeMessage('notice.cases.field.number');

/**
 * Returns a zod error map that gives `message` to a value of the wrong type only. A message set
 * with `z.number({ message })` would also stand for every check without its own, such as
 * `.positive()`, whose error then names no limit.
 */
function typeMessage(message: string) {
  return (issue: { code: string }) => (issue.code === 'invalid_type' ? message : undefined);
}

const { hemoglobinGdl } = ANH_LIMITS;

/**
 * Body of POST /api/cases/:caseId/labels: one ANH record, as `bv-edge label` takes it. The
 * hemoglobin range is checked in g/dL after conversion from `hbUnit`, so each field is named.
 */
export const LabelBody = z
  .strictObject({
    enteredBy: z.string().trim().min(1, noticeMessage('notice.cases.field.enteredBy')).max(100),
    method: z.enum(ANH_METHODS).optional(),
    hbUnit: z.enum(HEMOGLOBIN_UNITS),
    hbBefore: z.number({ error: typeMessage(NUMBER_MESSAGE) }).positive(),
    hbAfter: z.number({ error: typeMessage(NUMBER_MESSAGE) }).positive(),
    withdrawnMl: limited(ANH_LIMITS.withdrawnMl, 'mL').optional(),
    bags: z
      .array(
        z.strictObject({
          volumeMl: limited(ANH_LIMITS.bagGrossMl, 'mL'),
          hb: z.number().positive().optional(),
        }),
      )
      .min(1)
      .optional(),
    anticoagulantMlPerBag: limited(ANH_LIMITS.anticoagulantMlPerBag, 'mL').optional(),
    replacementFluid: z.string().trim().min(1).max(100).optional(),
    replacementVolumeMl: limited(ANH_LIMITS.replacementVolumeMl, 'mL').optional(),
    urineOutputMl: limited(ANH_LIMITS.urineOutputMl, 'mL').optional(),
    bleedingMl: limited(ANH_LIMITS.bleedingMl, 'mL').optional(),
    equilibrationMinutes: limited(ANH_LIMITS.equilibrationMinutes, 'min').optional(),
  })
  .superRefine((body, context) => {
    for (const field of ['hbBefore', 'hbAfter'] as const) {
      const gdl = hemoglobinToGdl(body[field], body.hbUnit);
      if (gdl < hemoglobinGdl.min || gdl > hemoglobinGdl.max) {
        context.addIssue({
          code: 'custom',
          path: [field],
          message: hemoglobinRangeMessage(body.hbUnit),
        });
      }
    }
    if (body.hbAfter >= body.hbBefore) {
      context.addIssue({
        code: 'custom',
        path: ['hbAfter'],
        message: noticeMessage('notice.cases.field.hbAfterBelow'),
      });
    }
    if ((body.withdrawnMl === undefined) === (body.bags === undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['withdrawnMl'],
        message: noticeMessage('notice.cases.field.withdrawnOrBags'),
      });
    }
  });

export type LabelBody = z.infer<typeof LabelBody>;

/** HTTP status of each error code that the label entry raises. */
export const CASES_STATUS_BY_CODE = {
  case_unknown: 404,
  anh_record_invalid: 422,
  anh_method_unknown: 400,
  label_entry_invalid: 400,
} as const;

/** Delivery of a stored estimate to the central server: queued in the outbox, or acknowledged. */
export type CentralDelivery = 'queued' | 'sent';

/** Delivery of HL7 when the daemon has no HL7 link. */
export type Hl7DeliveryResponse = CaseHl7Delivery | { state: 'not-configured' };

/**
 * Creates the case routes, mounted under /api/cases. GET / lists the cases closed in the last
 * `?days=` days (7 by default), newest first. GET /:caseId returns the stored scan, its labels
 * and the delivery of its estimate. POST /:caseId/labels stores an ANH label entry.
 */
export function createCasesApi(options: CasesApiOptions): Hono {
  const { store, logger } = options;
  const api = new Hono();
  api.get('/', (c) => {
    const parsed = RecentQuery.safeParse(c.req.query());
    if (!parsed.success) {
      const errors = fieldErrors(parsed.error.issues);
      const summary = errors.map((error) => `${error.field}: ${error.detail}`).join('; ');
      // No notice: the field errors carry theirs, and the page shows those instead.
      throw new ProblemError(400, 'invalid_request', `Invalid query: ${summary}.`, errors);
    }
    const now = options.now?.() ?? new Date();
    const since = new Date(now.getTime() - parsed.data.days * 86_400_000);
    return c.json({ days: parsed.data.days, cases: recentCases(store, since) });
  });
  api.get('/:caseId', (c) => {
    const caseId = c.req.param('caseId');
    const record = getCase(store, caseId);
    if (!record) throw unknownCase(caseId);
    const labels = getLabels(store.db, caseId);
    return c.json({
      record,
      labels,
      delivery: {
        central: centralDelivery(store, record.estimateId),
        hl7: options.hl7Delivery?.(record) ?? { state: 'not-configured' },
      },
    });
  });
  api.post('/:caseId/labels', async (c) => {
    const caseId = c.req.param('caseId');
    const { enteredBy, method, ...record } = await readJsonBody(c, LabelBody);
    const result = enterLabel(
      store,
      { caseId, enteredBy, record, ...(method && { method }) },
      options.labelOptions,
    );
    logger.info({ caseId, methods: result.labels.map((label) => label.method) }, 'label stored');
    options.onLabelsStored?.();
    return c.json(result, 201);
  });
  api.onError((error, c) => errorProblem(c, error, CASES_STATUS_BY_CODE, logger));
  return api;
}

function unknownCase(caseId: string): ProblemError {
  const unknown = notice('notice.cases.unknownCase', { caseId: JSON.stringify(caseId) });
  return new ProblemError(404, 'case_unknown', unknown);
}

/** Returns whether the estimate message of `estimateId` is still queued in the outbox. */
export function centralDelivery(store: Store, estimateId: string): CentralDelivery {
  const row = store.db
    .select({ count: sql<number>`count(*)` })
    .from(outbox)
    .where(
      sql`json_extract(${outbox.payload}, '$.schema') = ${ESTIMATE_SCHEMA}
        and json_extract(${outbox.payload}, '$.estimateId') = ${estimateId}`,
    )
    .get();
  return (row?.count ?? 0) > 0 ? 'queued' : 'sent';
}

/**
 * Lists the cases stored since `since`, newest first, with the first estimate of each. At most
 * RECENT_CASE_LIMIT cases are returned.
 */
export function recentCases(store: Store, since: Date): RecentCase[] {
  const labelCount = sql<number>`(select count(*) from ${anhLabels}
    where ${anhLabels.caseId} = ${cases.caseId})`;
  return store.db
    .select({
      caseId: cases.caseId,
      createdAt: cases.createdAt,
      bvMl: estimates.bvMl,
      inPopulation: estimates.inPopulation,
      labelCount,
    })
    .from(cases)
    .innerJoin(estimates, sql`${estimates.caseId} = ${cases.caseId} and ${estimates.revision} = 1`)
    .where(gte(cases.createdAt, since.toISOString()))
    .orderBy(desc(cases.createdAt))
    .limit(RECENT_CASE_LIMIT)
    .all();
}
