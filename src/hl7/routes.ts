import { Hono } from 'hono';
import { z } from 'zod';

import type { Logger } from '../core/log.ts';
import { errorProblem, ProblemError, readJsonBody } from '../http/problem.ts';
import { notice, noticeMessage } from '../notices/index.ts';
import type { Hl7Service } from './service.ts';

/** Case ids as the workflow accepts them. */
const CASE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * MRN format: 1 to 20 characters, letters, digits, '.', '_', '/' and '-', starting with a letter
 * or digit. Spaces around it (a barcode scanner's trailing one) are trimmed.
 */
export const MRN_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,19}$/;

const MrnBody = z.strictObject({
  mrn: z.string().trim().regex(MRN_PATTERN, noticeMessage('notice.hl7.field.mrn')),
});

export interface Hl7ApiOptions {
  service: Hl7Service;
  /** Whether `caseId` is the case open in the workflow now. */
  isCaseOpen(caseId: string): boolean;
  logger: Logger;
}

/**
 * Creates the HL7 API, mounted under /api/hl7. `PUT /cases/:caseId/mrn` stores the MRN of the
 * open case for its push from a JSON body `{mrn}`, and its reply never repeats the MRN.
 * `GET /status` returns the push status. Errors are RFC 9457 problem details.
 */
export function createHl7Api(options: Hl7ApiOptions): Hono {
  const { service, isCaseOpen, logger } = options;
  const api = new Hono();
  api.put('/cases/:caseId/mrn', async (c) => {
    const caseId = c.req.param('caseId');
    if (!CASE_ID_PATTERN.test(caseId)) {
      const expected = notice('notice.hl7.field.caseId');
      throw new ProblemError(400, 'invalid_request', notice('notice.hl7.invalidCaseId'), [
        { field: 'caseId', code: 'invalid_format', detail: expected.text, notice: expected },
      ]);
    }
    const { mrn } = await readJsonBody(c, MrnBody);
    if (!isCaseOpen(caseId)) {
      throw new ProblemError(409, 'case_not_open', notice('notice.hl7.caseNotOpen', { caseId }));
    }
    const { deleteAfter } = service.setMrn(caseId, mrn);
    return c.json({ caseId, stored: true, deleteAfter });
  });
  api.get('/status', (c) => c.json(service.status()));
  api.onError((error, c) => errorProblem(c, error, {}, logger));
  return api;
}
