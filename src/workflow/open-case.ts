import { parseCovariates } from '../clinical/covariates.ts';
import { BvEdgeError } from '../core/errors.ts';
import { plainNotice, type Notice } from '../core/notice.ts';
import { notice } from '../notices/index.ts';
import type { Covariates } from '../scan/types.ts';
import type { OpenCaseRequest } from './types.ts';

/** A pseudonymous case id: letters, digits, dot, dash and underscore, as the scan command takes. */
const CASE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Hemoglobin above this is taken as a typing slip (g/L entered as g/dL), g/dL. Like the covariate
 * limits, it rejects slips, not patients.
 */
const MAX_HB_GDL = 25;

export interface ValidCaseRequest {
  caseId: string;
  covariates: Covariates;
  hbPreopGdl?: number;
}

/**
 * Checks what the operator entered, collecting every problem into one error. That error carries
 * the notice of its problem when there is one, else a plain notice of all the problems' English
 * texts.
 */
export function validateOpenCase(request: OpenCaseRequest): ValidCaseRequest {
  const problems: Notice[] = [];
  if (typeof request.caseId !== 'string' || !CASE_ID_PATTERN.test(request.caseId)) {
    const caseId = String(JSON.stringify(request.caseId));
    problems.push(notice('notice.workflow.invalidCaseId', { caseId }));
  }
  let covariates: Covariates | undefined;
  try {
    covariates = parseCovariates(request);
  } catch (error) {
    if (!(error instanceof BvEdgeError)) throw error;
    problems.push(error.notice ?? plainNotice(error.message));
  }
  const hbPreopGdl = parseHemoglobin(request.hbPreopGdl, problems);
  if (problems.length > 0 || !covariates) {
    // NOTE: several problems join into English only. The API's own field checks reject the same
    // values first, each with its notice, so the page does not receive this error.
    const message =
      problems.length === 1
        ? problems[0]!
        : plainNotice(problems.map((problem) => problem.text).join(' '));
    throw new BvEdgeError('invalid_case_request', message, { value: request });
  }
  const valid: ValidCaseRequest = { caseId: request.caseId, covariates };
  if (hbPreopGdl !== undefined) valid.hbPreopGdl = hbPreopGdl;
  return valid;
}

function parseHemoglobin(
  value: string | number | undefined,
  problems: Notice[],
): number | undefined {
  if (value === undefined || value === '') return undefined;
  const hb = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(hb) || hb <= 0 || hb > MAX_HB_GDL) {
    problems.push(
      notice('notice.workflow.invalidHemoglobin', { value: String(value), max: MAX_HB_GDL }),
    );
    return undefined;
  }
  return hb;
}
