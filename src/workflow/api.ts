import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';

import { BvEdgeError } from '../core/errors.ts';
import type { ViewName } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import type { WorkflowService } from './service.ts';

const numberOrText = z.union([z.number(), z.string()]);

/** Body of POST /case; covariates may come as typed text and are checked by the workflow. */
const OpenCaseBody = z.strictObject({
  caseId: z.string(),
  heightCm: numberOrText.optional(),
  weightKg: numberOrText.optional(),
  sex: z.string().optional(),
  ageYears: numberOrText.optional(),
  hbPreopGdl: numberOrText.optional(),
});

/** Body of POST /recording; units as in RecordingOptions. */
const RecordingBody = z.strictObject({
  view: z.string(),
  seed: z.strictObject({ x: z.number(), y: z.number() }).optional(),
  depthCm: z.number().optional(),
  mmPerPixel: z.number().optional(),
  durationS: z.number().optional(),
});

/** HTTP status of each error code the workflow raises; any other code is a server error. */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  invalid_request: 400,
  invalid_case_request: 400,
  invalid_transition: 409,
  case_exists: 409,
  source_not_live: 409,
  workflow_stopped: 503,
};

/**
 * Creates the JSON API of the scan workflow, mounted under /api/workflow. Every POST takes and
 * returns JSON, and errors come back as {error: {code, message}}. Requiring a JSON content type
 * also keeps other web pages from posting forms to it, because browsers send JSON only after a
 * CORS preflight, which this API does not grant.
 */
export function createWorkflowApi(service: WorkflowService, logger: Logger): Hono {
  const api = new Hono();
  api.get('/', (c) => c.json({ case: service.snapshot() }));
  api.post('/case', async (c) => {
    const body = await readBody(c, OpenCaseBody);
    return c.json({ case: await service.openCase(body) }, 201);
  });
  api.post('/recording', async (c) => {
    const { view, ...options } = await readBody(c, RecordingBody);
    return c.json({ case: await service.startRecording(view as ViewName, options) }, 202);
  });
  api.post('/recording/stop', async (c) => c.json({ attempt: await service.stopRecording() }));
  api.post('/accept', async (c) => c.json({ case: await service.acceptView() }));
  api.post('/retake', async (c) => c.json({ case: await service.retake() }));
  api.post('/close', async (c) => c.json({ record: await service.closeCase() }));
  api.post('/abandon', async (c) => {
    await service.abandonCase();
    return c.json({ case: null });
  });
  api.onError((error, c) => errorResponse(c, error, logger));
  return api;
}

async function readBody<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  if (!(c.req.header('content-type') ?? '').startsWith('application/json')) {
    throw new BvEdgeError('invalid_request', 'Send the request body as application/json.');
  }
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch (cause) {
    throw new BvEdgeError('invalid_request', 'The request body is not valid JSON.', { cause });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`,
    );
    throw new BvEdgeError('invalid_request', `Invalid request body: ${problems.join('; ')}.`, {
      value: raw,
    });
  }
  return parsed.data;
}

function errorResponse(c: Context, error: unknown, logger: Logger): Response {
  if (error instanceof BvEdgeError) {
    const status = STATUS_BY_CODE[error.code] ?? 500;
    const level = status >= 500 ? 'error' : 'info';
    logger[level]({ err: error, path: c.req.path }, 'workflow request rejected');
    return c.json({ error: { code: error.code, message: error.message } }, status);
  }
  logger.error({ err: error, path: c.req.path }, 'workflow request failed unexpectedly');
  const message = 'The request failed unexpectedly; see the daemon log.';
  return c.json({ error: { code: 'internal_error', message } }, 500);
}
