import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';

import { COVARIATE_LIMITS } from '../clinical/covariates.ts';
import { VIEW_NAMES } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import { parseDecimal } from '../core/numbers.ts';
import type { NoticeParams } from '../core/notice.ts';
import { errorProblem, readJsonBody } from '../http/problem.ts';
import { noticeMessage } from '../notices/index.ts';
import { inRange, rangeNotice, RECORDING_LIMITS, type InputRange } from './guards.ts';
import type { WorkflowService } from './service.ts';

/**
 * Same rule as the workflow's own check of the case id, repeated here so that the API names the
 * field. The workflow still validates every value again.
 */
const CASE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Accepted preoperative hemoglobin, g/dL, as in the workflow's check. */
// The ANH entry's Hb limits, 3–25 g/dL (src/clinical/anh.ts); lower values are typing slips.
const HB_PREOP_GDL: InputRange = { min: 3, max: 25, unit: 'g/dL' };

/**
 * Kinds of expected value in a field error. Each has a notice for a missing value,
 * `notice.workflow.field.required.<name>`, and one for an invalid value, `….expected.<name>`.
 */
type Expected = 'range' | 'rangeAbove' | 'caseId' | 'sex' | 'view' | 'pixels';

/** Returns the message of an invalid value, e.g. "expected a number 1–30 cm", with its notice. */
function expected(name: Expected, params: NoticeParams = {}): string {
  return noticeMessage(`notice.workflow.field.expected.${name}`, params);
}

/**
 * Builds the zod error of a missing or invalid value, "required, a number 100–250 cm" or
 * "expected …", with its notice.
 */
function requiredOr(
  name: Expected,
  params: NoticeParams = {},
): (issue: { input?: unknown }) => string {
  return (issue) =>
    issue.input === undefined
      ? noticeMessage(`notice.workflow.field.required.${name}`, params)
      : expected(name, params);
}

/** Builds the schema of a number within `range`. */
function boundedNumber(range: InputRange) {
  const { form, params } = rangeNotice(range);
  return z
    .number({ error: requiredOr(form, params) })
    .refine((value) => inRange(value, range), { message: expected(form, params) });
}

/** Builds the schema of a number, or a decimal typed as text, within `range`. */
function boundedValue(range: InputRange) {
  const { form, params } = rangeNotice(range);
  return z
    .union([z.number(), z.string()], { error: requiredOr(form, params) })
    .refine((value) => inRange(typeof value === 'number' ? value : parseDecimal(value), range), {
      message: expected(form, params),
    });
}

/** Params of the view notices: the accepted view names. */
const VIEW_LIST = { views: VIEW_NAMES.join(', ') };

const { heightCm, weightKg, ageYears } = COVARIATE_LIMITS;

/** Body of POST /case; covariates may come as typed text. */
const OpenCaseBody = z.strictObject({
  caseId: z.string({ error: requiredOr('caseId') }).regex(CASE_ID_PATTERN, expected('caseId')),
  heightCm: boundedValue(heightCm),
  weightKg: boundedValue(weightKg),
  sex: z.enum(['female', 'male'], { error: requiredOr('sex') }),
  ageYears: boundedValue(ageYears).optional(),
  hbPreopGdl: boundedValue(HB_PREOP_GDL).optional(),
});

/** Pixel coordinate of a seed; the workflow checks it against the frame size. */
const pixel = z.number({ error: requiredOr('pixels') }).min(0, expected('pixels'));

/** Body of POST /recording; units as in RecordingOptions. */
const RecordingBody = z.strictObject({
  view: z.enum(VIEW_NAMES, { error: requiredOr('view', VIEW_LIST) }),
  seed: z.strictObject({ x: pixel, y: pixel }).optional(),
  depthCm: boundedNumber(RECORDING_LIMITS.depthCm).optional(),
  mmPerPixel: boundedNumber(RECORDING_LIMITS.mmPerPixel).optional(),
  durationS: boundedNumber(RECORDING_LIMITS.durationS).optional(),
});

/** HTTP status of each error code the workflow raises; any other code is a server error. */
export const WORKFLOW_STATUS_BY_CODE: Readonly<Record<string, ContentfulStatusCode>> = {
  invalid_request: 400,
  invalid_case_request: 400,
  invalid_transition: 409,
  case_exists: 409,
  source_not_live: 409,
  workflow_stopped: 503,
  // The data folder's free space is below storage.minFreeMb (RFC 4918: Insufficient Storage).
  insufficient_storage: 507,
};

/**
 * Creates the JSON API of the scan workflow, mounted under /api/workflow. Every POST takes and
 * returns JSON, and errors come back as RFC 9457 problem details (application/problem+json) whose
 * `errors` array names each invalid field. Requiring a JSON content type
 * also keeps other web pages from posting forms to it, because browsers send JSON only after a
 * CORS preflight, which this API does not grant.
 */
export function createWorkflowApi(service: WorkflowService, logger: Logger): Hono {
  const api = new Hono();
  const snapshot = (c: Context) => c.json({ case: service.snapshot() });
  api.get('/', snapshot);
  // A mounted app's "/" route matches only the path without the trailing slash, so this route,
  // whose parameter matches only the empty string, serves /api/workflow/ as well.
  api.get('/:trailingSlash{^$}', snapshot);
  api.post('/case', async (c) => {
    const body = await readJsonBody(c, OpenCaseBody);
    return c.json({ case: await service.openCase(body) }, 201);
  });
  api.post('/recording', async (c) => {
    const { view, ...options } = await readJsonBody(c, RecordingBody);
    return c.json({ case: await service.startRecording(view, options) }, 202);
  });
  api.post('/recording/stop', async (c) => c.json({ attempt: await service.stopRecording() }));
  api.post('/accept', async (c) => c.json({ case: await service.acceptView() }));
  api.post('/retake', async (c) => c.json({ case: await service.retake() }));
  api.post('/close', async (c) => c.json({ record: await service.closeCase() }));
  api.post('/abandon', async (c) => {
    await service.abandonCase();
    return c.json({ case: null });
  });
  api.onError((error, c) => errorProblem(c, error, WORKFLOW_STATUS_BY_CODE, logger));
  return api;
}
