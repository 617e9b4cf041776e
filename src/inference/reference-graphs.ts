import type { ViewName } from '../core/image.ts';
import { FUSION_INPUT_NAMES, FUSION_OUTPUT_NAMES } from './manifest.ts';
import { GraphBuilder } from './onnx-builder.ts';

/** Names of the per-view model outputs, in output order. */
export const LUMEN_FEATURE_NAMES = [
  'lumen_fraction_mean',
  'lumen_fraction_min',
  'lumen_fraction_max',
  'lumen_area_collapsibility',
  'lumen_fraction_std',
  'lumen_fraction_mean_abs_change',
] as const;

export const VIEW_INPUT_NAME = 'clip';
export const VIEW_OUTPUT_NAME = 'features';

/** Column of `nadler_ml` in the covariates input [height_cm, weight_kg, sex_male, age_years, nadler_ml]. */
export const NADLER_COVARIATE_INDEX = 4;
export const COVARIATE_COUNT = 5;

export interface LumenModelParams {
  view: ViewName;
  frames: number;
  height: number;
  width: number;
  /** Grey level (0–1 after normalisation) below which the smoothed pixel counts as lumen. */
  darkThreshold: number;
  /** Slope of the soft threshold, per unit grey level. */
  sharpness: number;
  /** Side of the square box filter applied before the threshold, pixels (odd). */
  smoothingPx: number;
}

/**
 * Weights of a disc inscribed in the crop, normalised to sum 1, so that the weighted sum of the
 * dark mask is the fraction of the disc that is lumen. The disc ignores the crop corners, where
 * neighbouring structures show up first.
 */
function inscribedDiscWeights(height: number, width: number): Float32Array {
  const weights = new Float32Array(height * width);
  const radius = Math.min(height, width) / 2;
  let total = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = x + 0.5 - width / 2;
      const dy = y + 0.5 - height / 2;
      const inside = dx * dx + dy * dy <= radius * radius ? 1 : 0;
      weights[y * width + x] = inside;
      total += inside;
    }
  }
  for (let i = 0; i < weights.length; i++) weights[i]! /= total;
  return weights;
}

/** Adds the per-frame lumen fraction series [1, frames] of a [1, frames, H, W] clip. */
function lumenFractionSeries(graph: GraphBuilder, clip: string, params: LumenModelParams): string {
  const pad = (params.smoothingPx - 1) / 2;
  const smoothed = graph.node('AveragePool', [clip], {
    kernel_shape: { ints: [params.smoothingPx, params.smoothingPx] },
    pads: { ints: [pad, pad, pad, pad] },
    count_include_pad: { int: 0 },
  });
  const belowThreshold = graph.node('Sub', [
    graph.scalar('dark_threshold', params.darkThreshold),
    smoothed,
  ]);
  const logit = graph.node('Mul', [belowThreshold, graph.scalar('sharpness', params.sharpness)]);
  const darkMask = graph.node('Sigmoid', [logit]);
  const weights = inscribedDiscWeights(params.height, params.width);
  const window = graph.floats('disc_weights', weights, [1, 1, params.height, params.width]);
  const weighted = graph.node('Mul', [darkMask, window]);
  return graph.node('ReduceSum', [weighted, graph.int64s('axes_hw', [2, 3])], {
    keepdims: { int: 0 },
  });
}

/** Adds the summary features of a [1, T] series, each [1, 1], in LUMEN_FEATURE_NAMES order. */
function seriesFeatures(graph: GraphBuilder, series: string, frames: number): string[] {
  const timeAxis = { axes: { ints: [1] }, keepdims: { int: 1 } };
  const mean = graph.node('ReduceMean', [series], timeAxis);
  const min = graph.node('ReduceMin', [series], timeAxis);
  const max = graph.node('ReduceMax', [series], timeAxis);

  // The floor keeps an all-tissue crop (max ≈ 0) from dividing by zero.
  const range = graph.node('Sub', [max, min]);
  const safeMax = graph.node('Max', [max, graph.scalar('min_fraction', 1e-4)]);
  const collapsibility = graph.node('Div', [range, safeMax]);

  const deviation = graph.node('Sub', [series, mean]);
  const variance = graph.node('ReduceMean', [graph.node('Mul', [deviation, deviation])], timeAxis);
  const std = graph.node('Sqrt', [variance]);

  const axis = graph.int64s('axis_t', [1]);
  const later = graph.node('Slice', [
    series,
    graph.int64s('start', [1]),
    graph.int64s('end', [frames]),
    axis,
  ]);
  const earlier = graph.node('Slice', [
    series,
    graph.int64s('start', [0]),
    graph.int64s('end', [frames - 1]),
    axis,
  ]);
  const change = graph.node('Abs', [graph.node('Sub', [later, earlier])]);
  const meanAbsChange = graph.node('ReduceMean', [change], timeAxis);

  return [mean, min, max, collapsibility, std, meanAbsChange];
}

/**
 * Encodes the per-view lumen-dynamics model: clip [1, T, H, W] of grey levels in 0–1 →
 * features [1, 6]. A box filter and a soft threshold mark dark (anechoic) pixels, the inscribed
 * disc averages them per frame, and the series is summarised over time.
 */
export function buildLumenModel(params: LumenModelParams, producerVersion: string): Uint8Array {
  const graph = new GraphBuilder(`bv_edge_${params.view}_lumen`);
  const clip = graph.input(VIEW_INPUT_NAME, [1, params.frames, params.height, params.width]);
  const series = lumenFractionSeries(graph, clip, params);
  const features = graph.node('Concat', seriesFeatures(graph, series, params.frames), {
    axis: { int: 1 },
  });
  graph.output(features, VIEW_OUTPUT_NAME, [1, LUMEN_FEATURE_NAMES.length]);
  return graph.encode({
    producerName: 'bv-edge scripts/build-models.ts',
    producerVersion,
    docString: `Lumen-dynamics features of the ${params.view} view; outputs ${LUMEN_FEATURE_NAMES.join(', ')}.`,
  });
}

/** Coefficients of the fusion model, all in the standardised-feature space of the ridge fit. */
export interface FusionParams {
  viewCount: number;
  featureCount: number;
  /** Per view and feature mean and SD used to standardise, [viewCount × featureCount]. */
  featureMean: Float64Array;
  featureSd: Float64Array;
  /** Ridge weights [viewCount × featureCount] and intercept of log(BV / Nadler). */
  weights: Float64Array;
  intercept: number;
  /** Residual variance of log(BV / Nadler) with all views present. */
  residualVariance: number;
  /** Variance each view's term adds when that view is missing and its features are imputed at the mean. */
  missingViewVariance: Float64Array;
  /** Normal quantile of the interval, 1.96 for 95 %. */
  intervalZ: number;
  /** Standardised features are clipped to ±zScoreLimit before the linear model. */
  zScoreLimit: number;
}

/** Adds the masked, standardised features [1, V, F]; absent views are 0, the training mean. */
function maskedZScores(
  graph: GraphBuilder,
  features: string,
  mask: string,
  params: FusionParams,
): string {
  const dims = [1, params.viewCount, params.featureCount];
  const mean = graph.floats('feature_mean', params.featureMean, dims);
  const centred = graph.node('Sub', [features, mean]);
  const standardised = graph.node('Div', [
    centred,
    graph.floats('feature_sd', params.featureSd, dims),
  ]);
  const mask3 = graph.node('Unsqueeze', [mask, graph.int64s('axis_feature', [2])]);
  return graph.node('Mul', [standardised, mask3]);
}

/** Adds the largest |z| among present features, [1, 1]: how far the input is from the cohort. */
function maxAbsZScore(graph: GraphBuilder, zScores: string): string {
  const abs = graph.node('Abs', [zScores]);
  const max = graph.node('ReduceMax', [abs], { axes: { ints: [1, 2] }, keepdims: { int: 0 } });
  return graph.node('Reshape', [max, graph.int64s('scalar_shape', [1, 1])]);
}

/**
 * Adds log(BV / Nadler) [1, 1]. The z-scores are clipped first, so that a feature far outside
 * the training cohort (a real clip, an unusual crop) cannot push the linear model arbitrarily far.
 */
function logRatio(graph: GraphBuilder, zScores: string, params: FusionParams): string {
  const limit = params.zScoreLimit;
  const clipped = graph.node('Clip', [
    zScores,
    graph.scalar('z_min', -limit),
    graph.scalar('z_max', limit),
  ]);
  const flatLength = params.viewCount * params.featureCount;
  const flat = graph.node('Reshape', [clipped, graph.int64s('flat_shape', [1, flatLength])]);
  const weights = graph.floats('ridge_weights', params.weights, [flatLength, 1]);
  const linear = graph.node('MatMul', [flat, weights]);
  return graph.node('Add', [linear, graph.floats('ridge_intercept', [params.intercept], [1, 1])]);
}

/** Adds the interval half-width on the log scale, z·σ, with σ inflated for each missing view. */
function logHalfWidth(graph: GraphBuilder, mask: string, params: FusionParams): string {
  const missing = graph.node('Sub', [graph.scalar('one', 1), mask]);
  const missingVariance = graph.floats('missing_view_variance', params.missingViewVariance, [
    params.viewCount,
    1,
  ]);
  const extraVariance = graph.node('MatMul', [missing, missingVariance]);
  const variance = graph.node('Add', [
    extraVariance,
    graph.scalar('residual_variance', params.residualVariance),
  ]);
  const sigma = graph.node('Sqrt', [variance]);
  return graph.node('Mul', [sigma, graph.scalar('interval_z', params.intervalZ)]);
}

/**
 * Encodes the fusion model: view_features [1, V, F], view_mask [1, V] and covariates [1, 5] →
 * bv_ml, bv_lower_ml and bv_upper_ml in mL and max_abs_z, each [1, 1]. With z the clipped,
 * masked, standardised features, BV = Nadler · exp(w·z + b) and the interval is
 * BV · exp(±1.96·σ). Only nadler_ml of the covariates enters this reference model.
 */
export function buildFusionModel(params: FusionParams, producerVersion: string): Uint8Array {
  const graph = new GraphBuilder('bv_edge_fusion');
  const features = graph.input(FUSION_INPUT_NAMES.viewFeatures, [
    1,
    params.viewCount,
    params.featureCount,
  ]);
  const mask = graph.input(FUSION_INPUT_NAMES.viewMask, [1, params.viewCount]);
  const covariates = graph.input(FUSION_INPUT_NAMES.covariates, [1, COVARIATE_COUNT]);

  const nadler = graph.node('Slice', [
    covariates,
    graph.int64s('start', [NADLER_COVARIATE_INDEX]),
    graph.int64s('end', [NADLER_COVARIATE_INDEX + 1]),
    graph.int64s('axis_covariate', [1]),
  ]);
  const zScores = maskedZScores(graph, features, mask, params);
  const bv = graph.node('Mul', [nadler, graph.node('Exp', [logRatio(graph, zScores, params)])]);
  const halfWidth = logHalfWidth(graph, mask, params);
  const upper = graph.node('Mul', [bv, graph.node('Exp', [halfWidth])]);
  const lower = graph.node('Div', [bv, graph.node('Exp', [halfWidth])]);

  graph.output(bv, FUSION_OUTPUT_NAMES.bv, [1, 1]);
  graph.output(lower, FUSION_OUTPUT_NAMES.lower, [1, 1]);
  graph.output(upper, FUSION_OUTPUT_NAMES.upper, [1, 1]);
  graph.output(maxAbsZScore(graph, zScores), FUSION_OUTPUT_NAMES.maxAbsZ, [1, 1]);
  return graph.encode({
    producerName: 'bv-edge scripts/build-models.ts',
    producerVersion,
    docString:
      'Ridge fusion of per-view lumen features into total blood volume (mL) with a 95 % interval; ' +
      `standardised features are clipped to ±${params.zScoreLimit}.`,
  });
}
