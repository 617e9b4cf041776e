import { randomUUID } from 'node:crypto';
import { nadlerBloodVolumeMl } from '../clinical/nadler.ts';
import { checkPopulation } from '../clinical/population.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { Notice } from '../core/notice.ts';
import { VIEW_NAMES, type ViewName } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import type { InferenceEngine } from '../inference/engine.ts';
import { notice } from '../notices/index.ts';
import type { Covariates, Estimate, PopulationFlag, ScanRecord, ViewResult } from './types.ts';
import { scanView, type ViewInput } from './view-scan.ts';

export interface ScanRequest {
  caseId?: string;
  covariates: Covariates;
  /** Preoperative hemoglobin, g/dL. Without it the estimate is flagged as not in the population. */
  hbPreopGdl?: number;
  views: ViewInput[];
}

/**
 * Runs every view of a scan and fuses them into one estimate. Nothing is stored here: a failure
 * in any view rejects the whole scan, so the caller never stores a partial case.
 */
export async function runScan(
  request: ScanRequest,
  engine: InferenceEngine,
  logger: Logger,
): Promise<ScanRecord> {
  checkViews(request.views, engine);
  const caseId = request.caseId ?? `case-${randomUUID()}`;
  const log = logger.child({ caseId });
  const views: ViewResult[] = [];
  for (const input of request.views) {
    views.push(await scanView(input, engine, log));
    log.info({ view: input.view }, 'view measured');
  }

  const estimate = await estimateFromViews(views, request.covariates, request.hbPreopGdl, engine);
  log.info(
    { bvMl: Math.round(estimate.bvMl), inPopulation: estimate.population.inPopulation },
    'estimate ready',
  );
  const record: ScanRecord = {
    caseId,
    estimateId: randomUUID(),
    createdAt: new Date().toISOString(),
    covariates: request.covariates,
    views,
    estimate,
  };
  if (request.hbPreopGdl !== undefined) record.hbPreopGdl = request.hbPreopGdl;
  return record;
}

/**
 * Fuses measured views and the covariates into one estimate. Views absent from `views` are masked,
 * which the model bundle allows only for its optional views.
 */
export async function estimateFromViews(
  views: ViewResult[],
  covariates: Covariates,
  hbPreopGdl: number | undefined,
  engine: InferenceEngine,
): Promise<Estimate> {
  const nadlerMl = nadlerBloodVolumeMl(covariates);
  const features: Partial<Record<ViewName, Float32Array>> = {};
  for (const view of views) features[view.view] = Float32Array.from(view.features);
  const fused = await engine.runFusion(features, fusionCovariates(covariates, nadlerMl));
  const manifest = engine.bundle.manifest;
  const featureRange = { maxAbsZ: fused.maxAbsZ, zScoreLimit: manifest.fusion.zScoreLimit };
  const estimate: Estimate = {
    bvMl: fused.bvMl,
    bvMlPerKg: fused.bvMl / covariates.weightKg,
    lowerMl: fused.lowerMl,
    upperMl: fused.upperMl,
    nadlerMl,
    modelName: manifest.name,
    modelVersion: manifest.version,
    intendedUse: manifest.intendedUse,
    notice: manifest.notice,
    executionProvider: engine.executionProvider,
    population: checkScanPopulation(covariates, hbPreopGdl, featureRange),
  };
  if (manifest.noticeTranslations !== undefined) {
    estimate.noticeTranslations = { ...manifest.noticeTranslations };
  }
  if (fused.maxAbsZ !== undefined) estimate.maxAbsZ = fused.maxAbsZ;
  return estimate;
}

/** Largest |standardised view feature| of one fusion run and the limit the model clips at. */
export interface FeatureRange {
  maxAbsZ?: number | undefined;
  zScoreLimit?: number | undefined;
}

/**
 * Checks the study's inclusion criteria. A preoperative Hb that was not entered leaves the patient
 * unconfirmed, so the estimate is flagged with that reason rather than assumed to be in range.
 * View features beyond the fusion model's z-score limit also flag the estimate, because the model
 * then extrapolates from clipped inputs.
 */
export function checkScanPopulation(
  covariates: Covariates,
  hbPreopGdl?: number,
  featureRange: FeatureRange = {},
): PopulationFlag {
  const check = checkPopulation({ covariates, hbBeforeGdl: hbPreopGdl });
  const reasons = [...check.reasons];
  const rangeReason = featureRangeReason(featureRange);
  if (rangeReason !== undefined) reasons.push(rangeReason);
  return { inPopulation: reasons.length === 0, reasons };
}

function featureRangeReason({ maxAbsZ, zScoreLimit }: FeatureRange): Notice | undefined {
  if (maxAbsZ === undefined || zScoreLimit === undefined) return undefined;
  if (Number.isFinite(maxAbsZ) && maxAbsZ <= zScoreLimit) return undefined;
  // NaN and ±Infinity travel as strings, because JSON would store them as null.
  const value = Number.isFinite(maxAbsZ) ? Math.round(maxAbsZ * 10) / 10 : String(maxAbsZ);
  return notice('notice.population.featuresOutside', { value, limit: zScoreLimit });
}

/**
 * Covariates in the order and units of the reference manifest: height cm, weight kg, sex (1 male),
 * age years, Nadler mL. A missing age is sent as the manifest's default age.
 */
function fusionCovariates(covariates: Covariates, nadlerMl: number): Float32Array {
  return Float32Array.from([
    covariates.heightCm,
    covariates.weightKg,
    covariates.sex === 'male' ? 1 : 0,
    covariates.ageYears ?? DEFAULT_AGE_YEARS,
    nadlerMl,
  ]);
}

/** Age used when none is entered; the reference fusion model gives age no weight. */
const DEFAULT_AGE_YEARS = 50;

function checkViews(views: ViewInput[], engine: InferenceEngine): void {
  const seen = new Set<ViewName>();
  for (const input of views) {
    if (seen.has(input.view)) {
      throw new BvEdgeError('duplicate_view', `View ${input.view} is given twice. Give it once.`, {
        value: input.view,
      });
    }
    seen.add(input.view);
  }
  const manifest = engine.bundle.manifest;
  const missing = manifest.requiredViews.filter((view) => !seen.has(view));
  if (missing.length > 0) {
    throw new BvEdgeError(
      'missing_views',
      `Model ${manifest.name} ${manifest.version} requires the views ${missing.join(', ')}. ` +
        `Add --view ${missing[0]}=FILE for each (views: ${VIEW_NAMES.join(', ')}).`,
      { value: missing },
    );
  }
}
