import { parseCovariates } from '../clinical/covariates.ts';
import { BvEdgeError } from '../core/errors.ts';
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

/** Checks what the operator entered, collecting every problem into one error. */
export function validateOpenCase(request: OpenCaseRequest): ValidCaseRequest {
  const problems: string[] = [];
  if (typeof request.caseId !== 'string' || !CASE_ID_PATTERN.test(request.caseId)) {
    problems.push(
      `Invalid case id ${JSON.stringify(request.caseId)}: use 1–64 letters, digits, ".", "-" ` +
        'or "_" (a study code, never a name or MRN).',
    );
  }
  let covariates: Covariates | undefined;
  try {
    covariates = parseCovariates(request);
  } catch (error) {
    if (!(error instanceof BvEdgeError)) throw error;
    problems.push(error.message);
  }
  const hbPreopGdl = parseHemoglobin(request.hbPreopGdl, problems);
  if (problems.length > 0 || !covariates) {
    throw new BvEdgeError('invalid_case_request', problems.join(' '), { value: request });
  }
  const valid: ValidCaseRequest = { caseId: request.caseId, covariates };
  if (hbPreopGdl !== undefined) valid.hbPreopGdl = hbPreopGdl;
  return valid;
}

function parseHemoglobin(
  value: string | number | undefined,
  problems: string[],
): number | undefined {
  if (value === undefined || value === '') return undefined;
  const hb = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(hb) || hb <= 0 || hb > MAX_HB_GDL) {
    problems.push(
      `Invalid hemoglobin "${value}": expected a number in g/dL, above 0 and at most ${MAX_HB_GDL}.`,
    );
    return undefined;
  }
  return hb;
}
