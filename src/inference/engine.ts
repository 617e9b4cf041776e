import * as ort from 'onnxruntime-node';
import { BvEdgeError } from '../core/errors.ts';
import { VIEW_NAMES, isViewName, type ViewName } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import type { ModelBundle } from './bundle.ts';
import { missingProviderReason } from './providers.ts';
import { FUSION_INPUT_NAMES, FUSION_OUTPUT_NAMES, type ModelManifest } from './manifest.ts';

export const EXECUTION_PROVIDERS = ['tensorrt', 'cuda', 'cpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface EngineOptions {
  /** Providers to try in order; the first one that can load every model is used. Default ['cpu']. */
  providers?: readonly ExecutionProvider[];
  logger: Logger;
}

/** Fused estimate of total blood volume with its 95 % interval, mL. */
export interface FusionResult {
  bvMl: number;
  lowerMl: number;
  upperMl: number;
  /** Largest |standardised feature| before clipping, when the fusion model reports it. */
  maxAbsZ?: number;
}

interface Sessions {
  views: Record<ViewName, ort.InferenceSession>;
  fusion: ort.InferenceSession;
}

function product(shape: readonly number[]): number {
  return shape.reduce((total, dim) => total * dim, 1);
}

function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

async function releaseAll(sessions: readonly ort.InferenceSession[]): Promise<void> {
  await Promise.all(sessions.map((session) => session.release()));
}

/**
 * Creates one session per model with `providers` as onnxruntime's provider chain, so that nodes
 * the first provider cannot run fall back to the next. Releases what it made if any model fails.
 */
async function createSessions(
  bundle: ModelBundle,
  providers: readonly ExecutionProvider[],
): Promise<Sessions> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [...providers],
    graphOptimizationLevel: 'all',
  };
  const created: ort.InferenceSession[] = [];
  const create = async (bytes: Uint8Array): Promise<ort.InferenceSession> => {
    const session = await ort.InferenceSession.create(bytes, options);
    created.push(session);
    return session;
  };
  try {
    const views = {} as Record<ViewName, ort.InferenceSession>;
    for (const view of VIEW_NAMES) views[view] = await create(bundle.viewModels[view]);
    return { views, fusion: await create(bundle.fusionModel) };
  } catch (error) {
    await releaseAll(created);
    throw error;
  }
}

function checkProviders(providers: readonly string[]): void {
  if (providers.length === 0) {
    throw new BvEdgeError(
      'execution_provider_invalid',
      'No execution providers given; expected at least cpu.',
      {
        value: providers,
      },
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

/**
 * Runs the bundle's ONNX models with onnxruntime: one session per model, created once on the
 * first execution provider that loads them all.
 */
export class InferenceEngine {
  private closed = false;

  private constructor(
    readonly bundle: ModelBundle,
    readonly executionProvider: ExecutionProvider,
    private readonly sessions: Sessions,
    private readonly logger: Logger,
  ) {}

  /**
   * Creates the sessions, trying `options.providers` in order. Each provider that fails to load
   * is logged once at warn level with the reason, and `executionProvider` reports the first one
   * that loads. Rejects when none loads.
   */
  static async create(bundle: ModelBundle, options: EngineOptions): Promise<InferenceEngine> {
    const providers = options.providers ?? ['cpu'];
    checkProviders(providers);
    const logger = options.logger;
    const failures: string[] = [];
    for (const [i, provider] of providers.entries()) {
      const missing = missingProviderReason(provider);
      if (missing) {
        failures.push(`${provider}: ${missing}`);
        logger.warn(
          { provider, reason: missing, next: providers[i + 1] ?? null },
          `execution provider ${provider} unavailable, skipped`,
        );
        continue;
      }
      try {
        const sessions = await createSessions(bundle, providers.slice(i));
        logger.info(
          { provider, model: bundle.manifest.name, version: bundle.manifest.version },
          'inference sessions ready',
        );
        return new InferenceEngine(bundle, provider, sessions, logger);
      } catch (error) {
        const reason = (error as Error).message;
        failures.push(`${provider}: ${reason}`);
        const next = providers[i + 1];
        logger.warn(
          { provider, reason, next: next ?? null },
          `execution provider ${provider} unavailable, skipped`,
        );
      }
    }
    const advice = providers.includes('cpu')
      ? 'Rebuild the bundle with npm run build:models or restore its files.'
      : 'Add cpu to the providers list.';
    throw new BvEdgeError(
      'execution_provider_unavailable',
      `No execution provider could load the models in ${bundle.dir}: ${failures.join('; ')}. ${advice}`,
      { value: providers },
    );
  }

  get manifest(): ModelManifest {
    return this.bundle.manifest;
  }

  /**
   * Runs the view model on one preprocessed clip (see cropAndResample) and returns its features
   * in the order of manifest views[view].output.featureNames.
   */
  async runView(view: ViewName, clip: Float32Array): Promise<Float32Array> {
    this.checkOpen();
    this.checkViewInput(view, clip);
    const spec = this.manifest.views[view];
    const input = new ort.Tensor('float32', clip, spec.input.shape);
    const outputs = await this.sessions.views[view].run({ [spec.input.name]: input });
    const length = product(spec.output.shape);
    const features = this.readOutput(outputs, spec.output.name, length, `${view} model`);

    const bad = firstNonFinite(features);
    if (bad >= 0) {
      throw new BvEdgeError(
        'model_output_invalid',
        `The ${view} model returned a non-finite ${spec.output.featureNames[bad]} (${features[bad]}).`,
        { value: Array.from(features) },
      );
    }
    return features;
  }

  /**
   * Fuses per-view features and covariates [height_cm, weight_kg, sex_male, age_years, nadler_ml]
   * into the blood volume estimate. Views absent from `features` are masked. Rejects with a
   * BvEdgeError when a required view is missing, an input is not finite, or the output is not
   * finite or lies outside the manifest's plausible range.
   */
  async runFusion(
    features: Partial<Record<ViewName, Float32Array>>,
    covariates: Float32Array,
  ): Promise<FusionResult> {
    this.checkOpen();
    this.checkRequiredViews(features);
    this.checkCovariates(covariates);
    const { viewOrder } = this.manifest.fusion;
    const viewCount = viewOrder.length;
    const viewFeatures = this.packFeatures(features);
    const mask = Float32Array.from(viewOrder, (view) => (features[view] ? 1 : 0));
    const tensor = (data: Float32Array, dims: number[]): ort.Tensor =>
      new ort.Tensor('float32', data, dims);
    const outputs = await this.sessions.fusion.run({
      [FUSION_INPUT_NAMES.viewFeatures]: tensor(viewFeatures, [
        1,
        viewCount,
        viewFeatures.length / viewCount,
      ]),
      [FUSION_INPUT_NAMES.viewMask]: tensor(mask, [1, viewCount]),
      [FUSION_INPUT_NAMES.covariates]: tensor(covariates, [1, covariates.length]),
    });

    const read = (name: string): number => this.readOutput(outputs, name, 1, 'fusion model')[0]!;
    const result = {
      bvMl: read(FUSION_OUTPUT_NAMES.bv),
      lowerMl: read(FUSION_OUTPUT_NAMES.lower),
      upperMl: read(FUSION_OUTPUT_NAMES.upper),
    };
    this.checkEstimate(result);
    return this.withFeatureRange(result, outputs);
  }

  /** Releases every session; later calls reject. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await releaseAll([...Object.values(this.sessions.views), this.sessions.fusion]);
    this.logger.info({ provider: this.executionProvider }, 'inference sessions released');
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new BvEdgeError(
        'engine_closed',
        'The inference engine is closed; create a new one.',
        {},
      );
    }
  }

  private readOutput(
    outputs: ort.InferenceSession.OnnxValueMapType,
    name: string,
    length: number,
    model: string,
  ): Float32Array {
    const tensor = outputs[name];
    if (!tensor || tensor.type !== 'float32' || tensor.data.length !== length) {
      throw new BvEdgeError(
        'model_output_invalid',
        `The ${model} returned no float32 output ${name} of ${length} values; the bundle does not match its manifest.`,
        { value: name },
      );
    }
    return Float32Array.from(tensor.data as Float32Array);
  }

  private checkViewInput(view: ViewName, clip: Float32Array): void {
    if (!isViewName(view)) {
      const expected = VIEW_NAMES.join(', ');
      throw new BvEdgeError(
        'view_unknown',
        `Unknown view ${String(view)}; expected one of ${expected}.`,
        {
          value: view,
        },
      );
    }
    const { shape } = this.manifest.views[view].input;
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

  private checkRequiredViews(features: Partial<Record<ViewName, Float32Array>>): void {
    const { requiredViews, name, version } = this.manifest;
    const missing = requiredViews.filter((view) => !features[view]);
    if (missing.length > 0) {
      throw new BvEdgeError(
        'views_missing',
        `Missing required view${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: model ${name} ${version} ` +
          `requires ${requiredViews.join(', ')}. Scan the missing view${missing.length > 1 ? 's' : ''}.`,
        { value: missing },
      );
    }
  }

  private checkCovariates(covariates: Float32Array): void {
    const specs = this.manifest.covariates;
    if (covariates.length !== specs.length) {
      throw new BvEdgeError(
        'covariates_invalid',
        `Expected ${specs.length} covariates (${specs.map((spec) => spec.name).join(', ')}), got ${covariates.length}.`,
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
  private packFeatures(features: Partial<Record<ViewName, Float32Array>>): Float32Array {
    const { viewOrder } = this.manifest.fusion;
    const count = this.manifest.views[viewOrder[0]!].output.featureNames.length;
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

  /** Adds max_abs_z when the model has it, and warns when features were clipped. */
  private withFeatureRange(
    result: FusionResult,
    outputs: ort.InferenceSession.OnnxValueMapType,
  ): FusionResult {
    const { outputs: specs, zScoreLimit } = this.manifest.fusion;
    if (!specs.some((spec) => spec.name === FUSION_OUTPUT_NAMES.maxAbsZ)) return result;
    const maxAbsZ = this.readOutput(outputs, FUSION_OUTPUT_NAMES.maxAbsZ, 1, 'fusion model')[0]!;
    if (zScoreLimit !== undefined && maxAbsZ > zScoreLimit) {
      this.logger.warn(
        { maxAbsZ, zScoreLimit },
        'view features lie outside the training cohort; the fusion model clipped them',
      );
    }
    return { ...result, maxAbsZ };
  }

  private checkEstimate(result: FusionResult): void {
    const { bvMl, lowerMl, upperMl } = result;
    const [min, max] = this.manifest.plausibleRangeMl;
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
}
