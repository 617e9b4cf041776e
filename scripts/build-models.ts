/**
 * Builds the reference model bundle in models/reference (or the directory given as the first
 * argument) without Python: per-view ONNX models written through onnx-proto, and a fusion model
 * whose ridge coefficients are fitted on a seeded synthetic phantom cohort. Two runs with the same
 * install on the same machine give byte-identical files.
 * NOTE: the fit uses features computed by onnxruntime, so another CPU or onnxruntime version may
 * change the last bits of the fusion coefficients. The view models do not depend on onnxruntime.
 *
 *   node --import tsx scripts/build-models.ts [outDir]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { VIEW_NAMES, type ViewName } from '../src/core/image.ts';
import { createLogger, silentLogger, type Logger } from '../src/core/log.ts';
import { sha256Hex, MANIFEST_FILE } from '../src/inference/bundle.ts';
import {
  FUSION_INPUT_NAMES,
  FUSION_OUTPUT_NAMES,
  parseManifest,
  type ModelManifest,
  type ViewInputSpec,
} from '../src/inference/manifest.ts';
import { cropAndResample } from '../src/inference/preprocess.ts';
import {
  LUMEN_FEATURE_NAMES,
  VIEW_INPUT_NAME,
  VIEW_OUTPUT_NAME,
  buildFusionModel,
  buildLumenModel,
  type FusionParams,
  type LumenModelParams,
} from '../src/inference/reference-graphs.ts';
import {
  coefficientOfDetermination,
  crossValidatedPredictions,
  fitRidge,
  foldAssignments,
  rootMeanSquare,
  standardise,
} from '../src/inference/ridge.ts';
import { encodeTestVectorPixels, type TestVector } from '../src/inference/test-vector.ts';
import { validateBundle } from '../src/inference/validate.ts';
import { formatViolation } from '../src/inference/violation.ts';
import { BvEdgeError } from '../src/core/errors.ts';
import {
  COHORT_VOLUME_STATE_RANGE,
  drawCohort,
  type SyntheticPatient,
} from '../src/phantom/cohort.ts';
import { generatePhantomClip } from '../src/phantom/clip.ts';
import { deriveSeed, mulberry32, normal } from '../src/phantom/random.ts';
import { nadlerBloodVolumeMl } from '../src/clinical/nadler.ts';
import type { Covariates } from '../src/scan/types.ts';

const BUNDLE_NAME = 'bv-edge-reference';
const BUNDLE_VERSION = '0.1.0';
const NOTICE = 'Reference model fitted on synthetic phantom data. Not for clinical use.';
const NOTICE_ZH_CN = '基于合成体模数据拟合的参考模型。不得用于临床。';
const TEST_VECTOR_FILE = 'test-vector.json';
const FUSION_FILE = 'fusion.onnx';

/** Model input: 32 frames at 10 Hz of a 64×64 grey crop whose side is 2.5 lumen diameters. */
const VIEW_INPUT: ViewInputSpec = {
  name: VIEW_INPUT_NAME,
  dtype: 'float32',
  shape: [1, 32, 64, 64],
  layout: 'NTHW',
  pixelFormat: 'gray8',
  frames: 32,
  rateHz: 10,
  width: 64,
  height: 64,
  normalisation: { subtract: 0, divide: 255 },
  cropScale: 2.5,
  resampling: 'bilinear',
};

/**
 * Soft threshold of the lumen models. Phantom lumen renders near 0.04 and tissue near 0.3–0.6
 * after the 5×5 box filter, so 0.15 with slope 40 separates them with little leak. The threshold
 * lies below the mid-grey of the bright lumen edge, so the lumen fraction reads about 0.76 of the
 * true area on phantom clips of every view, at 160×120 and at 320×240.
 */
const LUMEN_THRESHOLD = { darkThreshold: 0.15, sharpness: 40, smoothingPx: 5 };

/** The cohort clip covers exactly the model window at the model rate, at 160×120 to stay fast. */
const COHORT_CLIP = { seconds: 3.2, fps: 10, width: 160, height: 120 };

/** Sources of error a tracker adds to the crop: centre SD as a fraction of the diameter, side log-SD. */
const CROP_JITTER = { centreSd: 0.03, sideLogSd: 0.05 };

const DEFAULTS = { cohortSize: 300, seed: 20_240_601, folds: 5 };
const RIDGE_LAMBDAS = [0.1, 0.3, 1, 3, 10, 30, 100];
const INTERVAL_Z = 1.96;
/** Standardised features beyond ±3 SD of the cohort are clipped before the linear model. */
const Z_SCORE_LIMIT = 3;
const PLAUSIBLE_RANGE_ML: [number, number] = [1000, 15000];

/** The test-vector patient: an adult woman in a mild hypovolaemic state. */
const TEST_PATIENT: Required<Covariates> & { volumeState: number } = {
  sex: 'female',
  heightCm: 165,
  weightKg: 62,
  ageYears: 46,
  volumeState: 0.85,
};

export interface BuildOptions {
  /** Synthetic patients in the fitting cohort; default 300. */
  cohortSize?: number;
  seed?: number;
  folds?: number;
  logger?: Logger;
}

export interface FitMetrics {
  cohortSize: number;
  folds: number;
  lambda: number;
  /** Out-of-fold RMSE of BV, mL, and that of Nadler's volume alone for comparison. */
  cvRmseMl: number;
  nadlerOnlyRmseMl: number;
  /** Out-of-fold R² of log(BV / Nadler). */
  r2: number;
  /** Out-of-fold residual SD of log(BV / Nadler), the σ of the interval. */
  residualSdLog: number;
  /** Share of out-of-fold true volumes inside their 95 % interval. */
  intervalCoverage: number;
}

export interface BuildSummary {
  outDir: string;
  /** SHA-256 of every written file, by file name. */
  sha256: Record<string, string>;
  metrics: FitMetrics;
}

type ViewSessions = Record<ViewName, ort.InferenceSession>;

function lumenParams(view: ViewName): LumenModelParams {
  return {
    view,
    frames: VIEW_INPUT.frames,
    height: VIEW_INPUT.height,
    width: VIEW_INPUT.width,
    ...LUMEN_THRESHOLD,
  };
}

/** Creates a single-threaded CPU session, whose fixed reduction order keeps the fit reproducible. */
async function createSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
}

function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

async function runViewSession(
  session: ort.InferenceSession,
  clip: Float32Array,
): Promise<Float32Array> {
  const outputs = await session.run({ [VIEW_INPUT_NAME]: floatTensor(clip, VIEW_INPUT.shape) });
  return Float32Array.from(outputs[VIEW_OUTPUT_NAME]!.data as Float32Array);
}

/** Renders one cohort clip of a patient's view and crops it as a tracker would, with jitter. */
function cohortCrop(
  patient: Pick<SyntheticPatient, 'seed' | 'volumeState'> &
    Partial<Pick<SyntheticPatient, 'heartRateBpm' | 'respiratoryRateBpm' | 'respiratoryEffort'>>,
  view: ViewName,
): Float32Array {
  const viewIndex = VIEW_NAMES.indexOf(view);
  const clip = generatePhantomClip({
    view,
    volumeState: patient.volumeState,
    ...COHORT_CLIP,
    seed: deriveSeed(patient.seed, viewIndex),
    heartRateBpm: patient.heartRateBpm,
    respiratoryRateBpm: patient.respiratoryRateBpm,
    respiratoryEffort: patient.respiratoryEffort,
  });
  const { centre, equivalentDiameterMaxPx } = clip.truth;
  const random = mulberry32(deriveSeed(patient.seed, viewIndex, 99));
  const jitter = CROP_JITTER.centreSd * equivalentDiameterMaxPx;
  const jittered = { x: normal(random, centre.x, jitter), y: normal(random, centre.y, jitter) };
  const side =
    VIEW_INPUT.cropScale *
    equivalentDiameterMaxPx *
    Math.exp(normal(random, 0, CROP_JITTER.sideLogSd));
  return cropAndResample(clip.frames, clip.timestampsS, jittered, side, VIEW_INPUT).tensor;
}

/** Runs the view models on every cohort patient; one row of V × F features per patient. */
async function cohortFeatures(
  patients: readonly SyntheticPatient[],
  sessions: ViewSessions,
  logger: Logger,
): Promise<Float64Array[]> {
  const rows: Float64Array[] = [];
  for (const patient of patients) {
    const row = new Float64Array(VIEW_NAMES.length * LUMEN_FEATURE_NAMES.length);
    for (const [i, view] of VIEW_NAMES.entries()) {
      row.set(
        await runViewSession(sessions[view], cohortCrop(patient, view)),
        i * LUMEN_FEATURE_NAMES.length,
      );
    }
    rows.push(row);
    if ((patient.index + 1) % 50 === 0) {
      logger.info({ patients: patient.index + 1 }, 'cohort features computed');
    }
  }
  return rows;
}

function chooseLambda(rows: Float64Array[], targets: number[], assignment: number[]): number {
  let best = { lambda: RIDGE_LAMBDAS[0]!, rmse: Infinity };
  for (const lambda of RIDGE_LAMBDAS) {
    const predictions = crossValidatedPredictions(rows, targets, lambda, assignment, Z_SCORE_LIMIT);
    const rmse = rootMeanSquare(predictions.map((p, i) => p - targets[i]!));
    if (rmse < best.rmse) best = { lambda, rmse };
  }
  return best.lambda;
}

function fitMetrics(
  patients: readonly SyntheticPatient[],
  targets: number[],
  predictions: number[],
  lambda: number,
  folds: number,
): FitMetrics {
  const residuals = predictions.map((p, i) => targets[i]! - p);
  const residualSdLog = rootMeanSquare(residuals);
  const errorsMl = patients.map(
    (patient, i) => patient.nadlerMl * Math.exp(predictions[i]!) - patient.trueBvMl,
  );
  const covered = residuals.filter((r) => Math.abs(r) <= INTERVAL_Z * residualSdLog).length;
  return {
    cohortSize: patients.length,
    folds,
    lambda,
    cvRmseMl: rootMeanSquare(errorsMl),
    nadlerOnlyRmseMl: rootMeanSquare(
      patients.map((patient) => patient.nadlerMl - patient.trueBvMl),
    ),
    r2: coefficientOfDetermination(targets, predictions),
    residualSdLog,
    intervalCoverage: covered / patients.length,
  };
}

/**
 * Variance each view's term w_v · z_v has over the cohort: what the prediction loses when that
 * view is missing and its standardised features are imputed at 0.
 * NOTE: it ignores the covariance between views, so it is an estimate of the lost variance.
 */
function missingViewVariance(
  rows: Float64Array[],
  model: ReturnType<typeof fitRidge>,
): Float64Array {
  const featureCount = LUMEN_FEATURE_NAMES.length;
  return Float64Array.from(VIEW_NAMES, (_, v) => {
    const terms = rows.map((row) => {
      const z = standardise(row, model.standardiser);
      let term = 0;
      for (let f = 0; f < featureCount; f++) {
        term += model.weights[v * featureCount + f]! * z[v * featureCount + f]!;
      }
      return term;
    });
    const mean = terms.reduce((sum, t) => sum + t, 0) / terms.length;
    return terms.reduce((sum, t) => sum + (t - mean) ** 2, 0) / terms.length;
  });
}

function fitFusion(
  patients: readonly SyntheticPatient[],
  rows: Float64Array[],
  folds: number,
  seed: number,
): { params: FusionParams; metrics: FitMetrics } {
  const targets = patients.map((patient) => Math.log(patient.trueBvMl / patient.nadlerMl));
  const assignment = foldAssignments(rows.length, folds, mulberry32(deriveSeed(seed, 7)).next);
  const lambda = chooseLambda(rows, targets, assignment);
  const predictions = crossValidatedPredictions(rows, targets, lambda, assignment, Z_SCORE_LIMIT);
  const metrics = fitMetrics(patients, targets, predictions, lambda, folds);
  const model = fitRidge(rows, targets, lambda);
  const params: FusionParams = {
    viewCount: VIEW_NAMES.length,
    featureCount: LUMEN_FEATURE_NAMES.length,
    featureMean: model.standardiser.mean,
    featureSd: model.standardiser.sd,
    weights: model.weights,
    intercept: model.intercept,
    residualVariance: metrics.residualSdLog ** 2,
    missingViewVariance: missingViewVariance(rows, model),
    intervalZ: INTERVAL_Z,
    zScoreLimit: Z_SCORE_LIMIT,
  };
  return { params, metrics };
}

function testCovariates(): number[] {
  const nadlerMl = nadlerBloodVolumeMl(TEST_PATIENT);
  return [
    TEST_PATIENT.heightCm,
    TEST_PATIENT.weightKg,
    TEST_PATIENT.sex === 'male' ? 1 : 0,
    TEST_PATIENT.ageYears,
    nadlerMl,
  ];
}

/** Runs the fusion model on features and covariates, all views present. */
async function runFusionSession(
  session: ort.InferenceSession,
  features: Float32Array,
  covariates: number[],
): Promise<TestVector['fusion']['expected']> {
  const viewCount = VIEW_NAMES.length;
  const outputs = await session.run({
    [FUSION_INPUT_NAMES.viewFeatures]: floatTensor(features, [
      1,
      viewCount,
      features.length / viewCount,
    ]),
    [FUSION_INPUT_NAMES.viewMask]: floatTensor(new Float32Array(viewCount).fill(1), [1, viewCount]),
    [FUSION_INPUT_NAMES.covariates]: floatTensor(Float32Array.from(covariates), [
      1,
      covariates.length,
    ]),
  });
  const value = (name: string): number => (outputs[name]!.data as Float32Array)[0]!;
  return {
    bvMl: value(FUSION_OUTPUT_NAMES.bv),
    lowerMl: value(FUSION_OUTPUT_NAMES.lower),
    upperMl: value(FUSION_OUTPUT_NAMES.upper),
  };
}

/**
 * Builds the test vector from one phantom patient: crops quantised to 8 bits (so that the stored
 * pixels are the exact input), the features the view models give, and the fused estimate.
 */
async function buildTestVector(
  sessions: ViewSessions,
  fusion: ort.InferenceSession,
  seed: number,
): Promise<TestVector> {
  const patient = { seed: deriveSeed(seed, 0x7e57), volumeState: TEST_PATIENT.volumeState };
  const views = {} as TestVector['views'];
  const viewFeatures: Partial<Record<ViewName, number[]>> = {};
  const packed = new Float32Array(VIEW_NAMES.length * LUMEN_FEATURE_NAMES.length);
  for (const [i, view] of VIEW_NAMES.entries()) {
    const { subtract, divide } = VIEW_INPUT.normalisation;
    const crop = cohortCrop(patient, view);
    const pixels = Uint8Array.from(crop, (value) => Math.round(value * divide + subtract));
    const input = Float32Array.from(pixels, (value) => (value - subtract) / divide);
    const features = await runViewSession(sessions[view], input);
    views[view] = {
      pixelsBase64: encodeTestVectorPixels(pixels),
      expectedFeatures: Array.from(features),
    };
    viewFeatures[view] = Array.from(features);
    packed.set(features, i * LUMEN_FEATURE_NAMES.length);
  }
  const covariates = testCovariates();
  const expected = await runFusionSession(fusion, packed, covariates);
  return { views, fusion: { viewFeatures, covariates, expected } };
}

function significant(value: number, digits = 4): number {
  return Number(value.toPrecision(digits));
}

function buildManifest(
  sha256: Record<string, string>,
  metrics: FitMetrics,
  seed: number,
): ModelManifest {
  const featureCount = LUMEN_FEATURE_NAMES.length;
  const views = Object.fromEntries(
    VIEW_NAMES.map((view) => [
      view,
      {
        file: `view-${view}.onnx`,
        sha256: sha256[`view-${view}.onnx`]!,
        input: VIEW_INPUT,
        output: {
          name: VIEW_OUTPUT_NAME,
          dtype: 'float32',
          shape: [1, featureCount],
          featureNames: [...LUMEN_FEATURE_NAMES],
        },
      },
    ]),
  ) as ModelManifest['views'];
  const [volumeMin, volumeMax] = COHORT_VOLUME_STATE_RANGE;
  return {
    schemaVersion: 1,
    name: BUNDLE_NAME,
    version: BUNDLE_VERSION,
    intendedUse: 'reference',
    notice: NOTICE,
    noticeTranslations: { 'zh-CN': NOTICE_ZH_CN },
    onnxOpset: 17,
    views,
    requiredViews: [...VIEW_NAMES],
    optionalViews: [],
    fusion: {
      file: FUSION_FILE,
      sha256: sha256[FUSION_FILE]!,
      viewOrder: [...VIEW_NAMES],
      inputs: [
        {
          name: FUSION_INPUT_NAMES.viewFeatures,
          dtype: 'float32',
          shape: [1, VIEW_NAMES.length, featureCount],
        },
        { name: FUSION_INPUT_NAMES.viewMask, dtype: 'float32', shape: [1, VIEW_NAMES.length] },
        { name: FUSION_INPUT_NAMES.covariates, dtype: 'float32', shape: [1, 5] },
      ],
      outputs: Object.values(FUSION_OUTPUT_NAMES).map((name) => ({
        name,
        dtype: 'float32' as const,
        shape: [1, 1],
        unit: name === FUSION_OUTPUT_NAMES.maxAbsZ ? ('1' as const) : ('mL' as const),
      })),
      interval: { level: 0.95 },
      zScoreLimit: Z_SCORE_LIMIT,
    },
    covariates: [
      { name: 'height_cm', unit: 'cm' },
      { name: 'weight_kg', unit: 'kg' },
      { name: 'sex_male', unit: '1 for male, 0 for female' },
      { name: 'age_years', unit: 'years' },
      { name: 'nadler_ml', unit: 'mL' },
    ],
    plausibleRangeMl: PLAUSIBLE_RANGE_ML,
    provenance: {
      trainingData:
        `Synthetic phantom cohort of ${metrics.cohortSize} seeded adults (seed ${seed}); true BV = Nadler BV × ` +
        `volume state uniform in [${volumeMin}, ${volumeMax}]; one ${COHORT_CLIP.seconds} s, ` +
        `${COHORT_CLIP.width}×${COHORT_CLIP.height} phantom clip per view at ${COHORT_CLIP.fps} Hz; ridge regression of log(BV / Nadler).`,
      cohortSize: metrics.cohortSize,
      cvFolds: metrics.folds,
      cvRmseMl: significant(metrics.cvRmseMl),
      r2: significant(metrics.r2),
      r2Target: 'log(bv / nadler), out of fold',
      builtBy: `scripts/build-models.ts with onnxruntime-node ${ort.env.versions.node ?? 'unknown'}`,
      details: {
        ridgeLambda: metrics.lambda,
        residualSdLog: significant(metrics.residualSdLog),
        nadlerOnlyRmseMl: significant(metrics.nadlerOnlyRmseMl),
        cvIntervalCoverage: significant(metrics.intervalCoverage),
      },
    },
    testVector: {
      file: TEST_VECTOR_FILE,
      sha256: sha256[TEST_VECTOR_FILE]!,
      tolerance: { absolute: 1e-4, relative: 1e-4 },
    },
  };
}

async function writeFiles(
  outDir: string,
  files: Record<string, Uint8Array>,
): Promise<Record<string, string>> {
  await mkdir(outDir, { recursive: true });
  const sha256: Record<string, string> = {};
  for (const [name, bytes] of Object.entries(files)) {
    await writeFile(join(outDir, name), bytes);
    sha256[name] = sha256Hex(bytes);
  }
  return sha256;
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

/** Runs `bv-edge model validate` on the written bundle, so that a build never ships a broken one. */
async function checkContract(outDir: string, logger: Logger): Promise<void> {
  const report = await validateBundle(outDir, { providers: ['cpu'], logger });
  if (report.violations.length === 0) return;
  throw new BvEdgeError(
    'bundle_invalid',
    `The bundle built in ${outDir} breaks the model contract: ` +
      `${report.violations.map(formatViolation).join('; ')}. Fix scripts/build-models.ts.`,
    { value: report.violations },
  );
}

/** Builds every model, fits the fusion on the phantom cohort and writes the bundle to `outDir`. */
export async function buildReferenceBundle(
  outDir: string,
  options: BuildOptions = {},
): Promise<BuildSummary> {
  const { cohortSize, seed, folds } = { ...DEFAULTS, ...options };
  const logger = options.logger ?? silentLogger();
  const viewModels = Object.fromEntries(
    VIEW_NAMES.map((view) => [
      `view-${view}.onnx`,
      buildLumenModel(lumenParams(view), BUNDLE_VERSION),
    ]),
  );
  const sessions = {} as ViewSessions;
  for (const view of VIEW_NAMES)
    sessions[view] = await createSession(viewModels[`view-${view}.onnx`]!);

  const patients = drawCohort(cohortSize, seed);
  const rows = await cohortFeatures(patients, sessions, logger);
  const { params, metrics } = fitFusion(patients, rows, folds, seed);
  logger.info({ ...metrics }, 'fusion fitted');

  const fusionModel = buildFusionModel(params, BUNDLE_VERSION);
  const fusionSession = await createSession(fusionModel);
  const testVector = await buildTestVector(sessions, fusionSession, seed);
  await Promise.all(
    [...Object.values(sessions), fusionSession].map((session) => session.release()),
  );

  const sha256 = await writeFiles(outDir, {
    ...viewModels,
    [FUSION_FILE]: fusionModel,
    [TEST_VECTOR_FILE]: jsonBytes(testVector),
  });
  // Parsing the new manifest checks it against the same schema loadBundle applies.
  const manifest = parseManifest(buildManifest(sha256, metrics, seed), 'the built manifest');
  const manifestBytes = jsonBytes(manifest);
  Object.assign(sha256, await writeFiles(outDir, { [MANIFEST_FILE]: manifestBytes }));
  await checkContract(outDir, logger);
  return { outDir, sha256, metrics };
}

async function main(): Promise<void> {
  const logger = createLogger().child({ subsystem: 'build-models' });
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const outDir = resolve(process.argv[2] ?? join(repoRoot, 'models', 'reference'));
  const started = performance.now();
  const summary = await buildReferenceBundle(outDir, { logger });
  const seconds = (performance.now() - started) / 1000;
  logger.info(
    { outDir, seconds: Number(seconds.toFixed(1)), sha256: summary.sha256 },
    'reference bundle written',
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
