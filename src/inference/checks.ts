import { BvEdgeError } from '../core/errors.ts';
import { VIEW_NAMES, isViewName, type ViewName } from '../core/image.ts';
import type { ModelManifest } from './manifest.ts';
import { EXECUTION_PROVIDERS, type OutputMessage } from './worker-protocol.ts';

/** Fused estimate of total blood volume with its interval at manifest fusion.interval.level, mL. */
export interface FusionResult {
  bvMl: number;
  lowerMl: number;
  upperMl: number;
  /** Largest |standardised feature| before clipping, when the fusion model reports it. */
  maxAbsZ?: number;
}

export function product(shape: readonly number[]): number {
  return shape.reduce((total, dim) => total * dim, 1);
}

/** Returns the index of the first NaN or infinite value, or -1 when all are finite. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

export function checkProviders(providers: readonly string[]): void {
  if (providers.length === 0) {
    throw new BvEdgeError(
      'execution_provider_invalid',
      'No execution providers given; expected at least cpu.',
      { value: providers },
    );
  }
  for (const provider of providers) {
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(provider)) {
      throw new BvEdgeError(
        'execution_provider_invalid',
        `Unknown execution provider ${provider}; expected one of ${EXECUTION_PROVIDERS.join(', ')}.`,
        { value: provider },
      );
    }
  }
}

export function checkViewInput(manifest: ModelManifest, view: ViewName, clip: Float32Array): void {
  if (!isViewName(view)) {
    throw new BvEdgeError(
      'view_unknown',
      `Unknown view ${String(view)}; expected one of ${VIEW_NAMES.join(', ')}.`,
      { value: view },
    );
  }
  const { shape } = manifest.views[view].input;
  const expected = product(shape);
  if (clip.length !== expected) {
    throw new BvEdgeError(
      'view_input_invalid',
      `The ${view} model expects ${expected} values (shape [${shape.join(', ')}]), got ${clip.length}.`,
      { value: clip.length },
    );
  }
  const bad = firstNonFinite(clip);
  if (bad >= 0) {
    throw new BvEdgeError(
      'view_input_invalid',
      `The ${view} clip has a non-finite value ${clip[bad]} at index ${bad}; expected normalised pixels.`,
      { value: bad },
    );
  }
}

/** Rejects a fusion whose features lack a view the manifest lists in requiredViews. */
export function checkRequiredViews(
  manifest: ModelManifest,
  features: Partial<Record<ViewName, Float32Array>>,
): void {
  const { requiredViews, name, version } = manifest;
  const missing = requiredViews.filter((view) => !features[view]);
  if (missing.length === 0) return;
  const plural = missing.length > 1 ? 's' : '';
  throw new BvEdgeError(
    'views_missing',
    `Missing required view${plural} ${missing.join(', ')}: model ${name} ${version} ` +
      `requires ${requiredViews.join(', ')}. Scan the missing view${plural}.`,
    { value: missing },
  );
}

export function checkCovariates(manifest: ModelManifest, covariates: Float32Array): void {
  const specs = manifest.covariates;
  if (covariates.length !== specs.length) {
    const names = specs.map((spec) => spec.name).join(', ');
    throw new BvEdgeError(
      'covariates_invalid',
      `Expected ${specs.length} covariates (${names}), got ${covariates.length}.`,
      { value: covariates.length },
    );
  }
  specs.forEach((spec, i) => {
    const value = covariates[i]!;
    const positive = spec.name === 'nadler_ml';
    if (!Number.isFinite(value) || (positive && value <= 0)) {
      throw new BvEdgeError(
        'covariates_invalid',
        `Invalid covariate ${spec.name}: ${value}; expected a finite${positive ? ', positive' : ''} number in ${spec.unit}.`,
        { value },
      );
    }
  });
}

/** Packs features into view_features [1, V, F] in fusion view order; absent views stay 0. */
export function packFeatures(
  manifest: ModelManifest,
  features: Partial<Record<ViewName, Float32Array>>,
): Float32Array {
  const { viewOrder } = manifest.fusion;
  const count = manifest.views[viewOrder[0]!].output.featureNames.length;
  const packed = new Float32Array(viewOrder.length * count);
  viewOrder.forEach((view, i) => {
    const values = features[view];
    if (!values) return;
    if (values.length !== count || firstNonFinite(values) >= 0) {
      throw new BvEdgeError(
        'view_features_invalid',
        `Invalid ${view} features [${Array.from(values).join(', ')}]; expected ${count} finite values from the ${view} model.`,
        { value: Array.from(values) },
      );
    }
    packed.set(values, i * count);
  });
  return packed;
}

/**
 * Returns the float32 data of output `name`. Throws when the model did not return it with
 * `length` values, naming the model by `model` in the message.
 */
export function readOutput(
  outputs: Record<string, OutputMessage>,
  name: string,
  length: number,
  model: string,
): Float32Array {
  const output = outputs[name];
  if (!output || !output.data || output.data.length !== length) {
    const found = output ? `${output.type} [${output.dims.join(', ')}]` : 'nothing';
    throw new BvEdgeError(
      'model_output_invalid',
      `The ${model} returned ${found} for output ${name}; expected float32 with ${length} values. ` +
        'The bundle does not match its manifest; run bv-edge model validate on it.',
      { value: name },
    );
  }
  return output.data;
}

/**
 * Rejects an estimate that is NaN or infinite, whose interval does not contain it, or that lies
 * outside the manifest's plausible range.
 */
export function checkEstimate(manifest: ModelManifest, result: FusionResult): void {
  const { bvMl, lowerMl, upperMl } = result;
  const [min, max] = manifest.plausibleRangeMl;
  if (![bvMl, lowerMl, upperMl].every(Number.isFinite) || !(lowerMl <= bvMl && bvMl <= upperMl)) {
    throw new BvEdgeError(
      'estimate_invalid',
      `The fusion model returned an invalid estimate ${bvMl} mL (interval ${lowerMl}–${upperMl} mL). ` +
        'Check the covariates and the view clips.',
      { value: result },
    );
  }
  if (bvMl < min || bvMl > max) {
    throw new BvEdgeError(
      'estimate_out_of_range',
      `Estimated blood volume ${bvMl.toFixed(0)} mL is outside the plausible range ${min}–${max} mL. ` +
        'Check the covariates and the view clips.',
      { value: result },
    );
  }
}
