import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Notice } from '../core/notice.ts';
import { notice, noticeOfMessage } from '../notices/index.ts';

/** One invalid field of a request body or path. */
export interface FieldError {
  /** Path of the field in the body, dot-separated, e.g. "bags.0.volumeMl"; "body" for the whole. */
  field: string;
  /** zod issue code, e.g. "too_small", "invalid_type", "unrecognized_keys". */
  code: string;
  /** Description of the problem with the value and of the expected value, in English. */
  detail: string;
  /** The detail as a notice, for the page to show in its language. */
  notice?: Notice;
}

/** RFC 9457 problem details, with the bv-edge error code and field errors as extension members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Stable error code, as BvEdgeError.code; the page translates its message by this code. */
  code: string;
  /**
   * The detail as a notice, for the page to show in its language. With field errors it only
   * names the invalid fields.
   */
  notice?: Notice;
  errors?: FieldError[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Problem types are URNs, so they identify the error without pointing at a web page the cart
 * could not reach anyway.
 */
export function problemType(code: string): string {
  return `urn:bv-edge:problem:${code}`;
}

/**
 * Short titles of the error codes the API returns. Other codes get a generic title. The page has
 * a message for each code, which a test checks.
 */
export const PROBLEM_TITLES: Readonly<Record<string, string>> = {
  invalid_request: 'Invalid request',
  invalid_case_request: 'Invalid case data',
  invalid_transition: 'Not possible in the current step',
  case_exists: 'Case id already used',
  case_unknown: 'Case not found',
  source_not_live: 'Capture is not live',
  workflow_stopped: 'Workflow stopped',
  insufficient_storage: 'Disk full',
  anh_record_invalid: 'Invalid ANH record',
  anh_method_unknown: 'Unknown ANH method',
  label_entry_invalid: 'Invalid label entry',
  unauthorized: 'Token required',
  not_found: 'Not found',
  internal_error: 'Internal error',
  case_not_open: 'Case not open',
  foreign_host: 'Host not served',
  no_frame: 'No frame yet',
  unsupported_media_type: 'Unsupported content type',
  cross_origin: 'Request from another site',
};

/** An error that the API returns as a problem response; `BvEdgeError` codes map to a status. */
export class ProblemError extends Error {
  readonly problem: Problem;

  constructor(status: number, code: string, detail: string | Notice, errors?: FieldError[]) {
    const text = typeof detail === 'string' ? detail : detail.text;
    super(text);
    this.name = 'ProblemError';
    this.problem = {
      type: problemType(code),
      title: PROBLEM_TITLES[code] ?? 'Request failed',
      status,
      detail: text,
      code,
      ...(typeof detail !== 'string' && { notice: detail }),
      ...(errors && { errors }),
    };
  }
}

export function problemResponse(c: Context, problem: Problem): Response {
  return c.body(JSON.stringify(problem), problem.status as ContentfulStatusCode, {
    'Content-Type': PROBLEM_CONTENT_TYPE,
  });
}

/**
 * Converts zod issues to field errors, one per issue, with the unknown key named for each. Each
 * field error carries a notice: the one its schema gave (src/notices `noticeMessage`), or, for
 * zod's own English texts, a generic notice built from the issue. `input` is the request body,
 * which separates a missing field from one of the wrong type.
 */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], input?: unknown): FieldError[] {
  return issues.flatMap((issue): FieldError[] => {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const unknown = notice('notice.field.unknownKey', { key });
        return {
          field: [...path, key].join('.'),
          code: issue.code,
          detail: unknown.text,
          notice: unknown,
        };
      });
    }
    const known = noticeOfMessage(issue.message);
    const built = known ?? issueNotice(issue, valueAt(input, issue.path));
    return [
      {
        field: path.join('.') || 'body',
        code: issue.code,
        detail: known ? issue.message : built.text,
        notice: built,
      },
    ];
  });
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Builds the generic notice of an issue that zod describes in its own English words. */
function issueNotice(issue: z.core.$ZodIssue, value: unknown): Notice {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.path.length === 0) return notice('notice.field.notObject');
      if (value === undefined) return notice('notice.field.required');
      return notice('notice.field.expected', { type: issue.expected });
    case 'invalid_value':
      return notice('notice.field.oneOf', { options: issue.values.map(String).join(', ') });
    case 'too_small':
      return lowerLimitNotice(issue.origin, Number(issue.minimum), issue.inclusive !== false);
    case 'too_big':
      return upperLimitNotice(issue.origin, Number(issue.maximum), issue.inclusive !== false);
    default:
      return notice('notice.field.invalid');
  }
}

function lowerLimitNotice(origin: string, limit: number, inclusive: boolean): Notice {
  if (origin === 'string') {
    return limit <= 1
      ? notice('notice.field.textNotEmpty')
      : notice('notice.field.textMin', { min: limit });
  }
  if (origin === 'array') {
    return limit <= 1
      ? notice('notice.field.listNotEmpty')
      : notice('notice.field.listMin', { min: limit });
  }
  return notice(inclusive ? 'notice.field.atLeast' : 'notice.field.above', { limit });
}

function upperLimitNotice(origin: string, limit: number, inclusive: boolean): Notice {
  if (origin === 'string') return notice('notice.field.textMax', { max: limit });
  if (origin === 'array') return notice('notice.field.listMax', { max: limit });
  return notice(inclusive ? 'notice.field.atMost' : 'notice.field.below', { limit });
}

/**
 * Reads and validates a JSON body. Throws a 400 ProblemError when the content type is not JSON,
 * the body does not parse, or a field is invalid. That error lists every invalid field.
 */
export async function readJsonBody<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  if (!(c.req.header('content-type') ?? '').startsWith('application/json')) {
    throw new ProblemError(400, 'invalid_request', notice('notice.request.notJson'));
  }
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new ProblemError(400, 'invalid_request', notice('notice.request.badJson'));
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const errors = fieldErrors(parsed.error.issues, raw);
  // Some details end in a full stop, which the summary would double, so it is dropped.
  const summary = errors
    .map((error) => `${error.field}: ${error.detail.replace(/\.$/, '')}`)
    .join('; ');
  // The notice names the fields only, because the page shows each field's error beside it.
  const fields = notice('notice.request.invalidFields', {
    fields: [...new Set(errors.map((error) => error.field))].join(', '),
  });
  const problem = new ProblemError(
    400,
    'invalid_request',
    `Invalid request body: ${summary}.`,
    errors,
  );
  problem.problem.notice = fields;
  throw problem;
}

/**
 * Builds the problem response of a failed request. `statusByCode` maps BvEdgeError codes to HTTP
 * statuses, and an unmapped code is a 500 with the error's message. Any other error is a 500
 * whose detail hides the internals.
 */
export function errorProblem(
  c: Context,
  error: unknown,
  statusByCode: Readonly<Record<string, ContentfulStatusCode>>,
  logger: Logger,
): Response {
  if (error instanceof ProblemError) {
    logger.info({ path: c.req.path, problem: error.problem.code }, 'request rejected');
    return problemResponse(c, error.problem);
  }
  if (error instanceof BvEdgeError) {
    const status = statusByCode[error.code] ?? 500;
    const level = status >= 500 ? 'error' : 'info';
    logger[level]({ err: error, path: c.req.path }, 'request rejected');
    const detail = error.notice ?? error.message;
    return problemResponse(c, new ProblemError(status, error.code, detail).problem);
  }
  if (isDiskFull(error)) {
    logger.error({ err: error, path: c.req.path }, 'request failed: the disk is full');
    const detail = notice('notice.request.diskFull');
    return problemResponse(c, new ProblemError(507, 'insufficient_storage', detail).problem);
  }
  logger.error({ err: error, path: c.req.path }, 'request failed unexpectedly');
  const detail = notice('notice.request.unexpected');
  return problemResponse(c, new ProblemError(500, 'internal_error', detail).problem);
}

/**
 * Returns whether `error` is a failed write to a full disk: SQLite's SQLITE_FULL (better-sqlite3 sets the
 * result code as `code`) or a file write's ENOSPC.
 */
function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC';
}
