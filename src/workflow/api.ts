import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';

import { COVARIATE_LIMITS } from '../clinical/covariates.ts';
import { VIEW_NAMES } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import { parseDecimal } from '../core/numbers.ts';
import { errorProblem, readJsonBody } from '../http/problem.ts';
import type { WorkflowService } from './service.ts';

/**
 * Same rule as the workflow's own check of the case id, repeated here so that the API names the
 * field. The workflow still validates every value again.
 */
const CASE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Highest accepted preoperative hemoglobin, g/dL, as in the workflow's check. */
const MAX_HB_GDL = 25;

/** Builds the schema of a number, or a decimal typed as text, within `min`–`max` `unit`. */
function boundedValue(min: number, max: number, unit: string, minExclusive = false) {
  const lower = minExclusive ? `above ${min}` : `${min}`;
  return z.union([z.number(), z.string()]).refine(
    (value) => {
      const number = typeof value === 'number' ? value : parseDecimal(value);
      return (
        Number.isFinite(number) && (minExclusive ? number > min : number >= min) && number <= max
      );
    },
    { message: `expected a number ${lower}–${max} ${unit}` },
  );
}

const { heightCm, weightKg, ageYears } = COVARIATE_LIMITS;

/** Body of POST /case; covariates may come as typed text. */
const OpenCaseBody = z.strictObject({
  caseId: z
    .string()
    .regex(CASE_ID_PATTERN, 'expected 1–64 letters, digits, ".", "-" or "_" (a study code)'),
  heightCm: boundedValue(heightCm.min, heightCm.max, heightCm.unit),
  weightKg: boundedValue(weightKg.min, weightKg.max, weightKg.unit),
  sex: z.enum(['female', 'male'], { message: 'expected "female" or "male"' }),
  ageYears: boundedValue(ageYears.min, ageYears.max, ageYears.unit).optional(),
  hbPreopGdl: boundedValue(0, MAX_HB_GDL, 'g/dL', true).optional(),
});

/** Body of POST /recording; units as in RecordingOptions. */
const RecordingBody = z.strictObject({
  view: z.enum(VIEW_NAMES, { message: `expected one of ${VIEW_NAMES.join(', ')}` }),
  seed: z.strictObject({ x: z.number(), y: z.number() }).optional(),
  depthCm: z.number().positive().optional(),
  mmPerPixel: z.number().positive().optional(),
  durationS: z.number().positive().optional(),
});

/** HTTP status of each error code the workflow raises; any other code is a server error. */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
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
  api.get('/', (c) => c.json({ case: service.snapshot() }));
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
  api.onError((error, c) => errorProblem(c, error, STATUS_BY_CODE, logger));
  return api;
}
