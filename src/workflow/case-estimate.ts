import { randomUUID } from 'node:crypto';

import type { InferenceEngine } from '../inference/engine.ts';
import { estimateFromViews } from '../scan/scan.ts';
import { acceptedResults, type ActiveCase } from './active-case.ts';
import type { CaseEstimate } from './types.ts';

/**
 * Estimates the blood volume from the accepted views of a case under a new estimate id. The
 * fusion model masks the views that were not accepted; it rejects when a view it requires is
 * missing.
 */
export async function estimateCase(
  active: ActiveCase,
  engine: InferenceEngine,
): Promise<CaseEstimate> {
  const results = acceptedResults(active);
  const estimate = await estimateFromViews(results, active.covariates, active.hbPreopGdl, engine);
  return { estimateId: randomUUID(), views: results.map((result) => result.view), estimate };
}
