import { BvEdgeError } from '../core/errors.ts';
import type { ViewName } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import type { ModelBundle } from './bundle.ts';
import {
  checkCovariates,
  checkEstimate,
  checkProviders,
  checkRequiredViews,
  checkViewInput,
  firstNonFinite,
  packFeatures,
  product,
  readOutput,
  type FusionResult,
} from './checks.ts';
import {
  availableProviders,
  logEngineBuild,
  logProviderFailures,
  modelLoadSpecs,
  onnxruntimeVersion,
} from './load.ts';
import { FUSION_INPUT_NAMES, FUSION_OUTPUT_NAMES, type ModelManifest } from './manifest.ts';
import type { TensorRtOptions } from './tensorrt.ts';
import { InferenceWorker, WorkerRequestError } from './worker-client.ts';
import {
  EXECUTION_PROVIDERS,
  type ExecutionProvider,
  type LoadedModel,
  type ModelKey,
  type OutputMessage,
  type TensorMessage,
} from './worker-protocol.ts';

export { EXECUTION_PROVIDERS, type ExecutionProvider, type ModelKey, type LoadedModel };
export type { FusionResult } from './checks.ts';

export interface EngineOptions {
  /** Providers to try in order for each model. Default ['cpu']. */
  providers?: readonly ExecutionProvider[];
  logger: Logger;
  tensorrt?: TensorRtOptions;
  /** CUDA device index for the cuda provider; default 0. */
  cudaDeviceId?: number;
  /** onnxruntime intra-op threads per session; default onnxruntime's (one per core). */
  intraOpNumThreads?: number;
}

/**
 * Runs the bundle's ONNX models in a worker thread with one onnxruntime session per model,
 * created and warmed up at load. Inputs and outputs are checked here on the main thread.
 */
export class InferenceEngine {
  private closed = false;

  private constructor(
    readonly bundle: ModelBundle,
    /** Each model with its execution provider and load times, views first, then fusion. */
    readonly models: readonly LoadedModel[],
    private readonly worker: InferenceWorker,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts the worker and creates a session per model, trying `options.providers` in order for
   * each. A provider whose libraries are missing, or that fails on a model, is logged once at
   * warn level with the reason and skipped. Rejects when some model loads on no provider.
   */
  static async create(bundle: ModelBundle, options: EngineOptions): Promise<InferenceEngine> {
    const requested = options.providers ?? ['cpu'];
    checkProviders(requested);
    const logger = options.logger;
    const providers = availableProviders(requested, bundle.dir, logger);
    const specs = await modelLoadSpecs(bundle, providers, options.tensorrt ?? {});
    const worker = new InferenceWorker(logger, (event) => logEngineBuild(event, specs, logger));
    await worker.start();
    try {
      const { models, failures } = await worker.request<'load'>({
        type: 'load',
        models: specs,
        providers,
        cudaDeviceId: options.cudaDeviceId ?? 0,
        ...(options.intraOpNumThreads !== undefined && {
          intraOpNumThreads: options.intraOpNumThreads,
        }),
      });
      logProviderFailures(failures, logger);
      const engine = new InferenceEngine(bundle, models, worker, logger);
      engine.logReady(options.tensorrt ?? {});
      return engine;
    } catch (error) {
      await worker.stop();
      throw loadError(error, bundle, requested, logger);
    }
  }

  get manifest(): ModelManifest {
    return this.bundle.manifest;
  }

  /** Execution provider of each model, for status and telemetry. */
  get providers(): Readonly<Record<ModelKey, ExecutionProvider>> {
    return Object.fromEntries(this.models.map((model) => [model.key, model.provider])) as Record<
      ModelKey,
      ExecutionProvider
    >;
  }

  /**
   * The least preferred provider that any model runs on, e.g. "cpu" when one model fell back to
   * it. In the usual case every model runs on the same provider.
   */
  get executionProvider(): ExecutionProvider {
    const rank = (provider: ExecutionProvider): number => EXECUTION_PROVIDERS.indexOf(provider);
    return this.models.reduce<ExecutionProvider>(
      (worst, model) => (rank(model.provider) > rank(worst) ? model.provider : worst),
      this.models[0]!.provider,
    );
  }

  /**
   * Runs the view model on one preprocessed clip (see cropAndResample) and returns its features
   * in the order of manifest views[view].output.featureNames. Rejects NaN or infinite features.
   */
  async runView(view: ViewName, clip: Float32Array): Promise<Float32Array> {
    this.checkOpen();
    checkViewInput(this.manifest, view, clip);
    const spec = this.manifest.views[view];
    const outputs = await this.run(view, {
      [spec.input.name]: { data: clip, dims: spec.input.shape },
    });
    const model = `${view} model ${spec.file}`;
    const features = readOutput(outputs, spec.output.name, product(spec.output.shape), model);

    const bad = firstNonFinite(features);
    if (bad >= 0) {
      const error = new BvEdgeError(
        'model_output_invalid',
        `The ${model} returned a non-finite ${spec.output.featureNames[bad]} (${features[bad]}); ` +
          `no estimate is made from it. Run bv-edge model validate on ${this.bundle.dir}.`,
        { value: Array.from(features) },
      );
      this.logRejected(error, { view, features: Array.from(features) });
      throw error;
    }
    return features;
  }

  /**
   * Fuses per-view features and the covariates named in the manifest (for the reference bundle
   * [height_cm, weight_kg, sex_male, age_years, nadler_ml]) into the blood volume estimate.
   * Views absent from `features` are masked when the manifest lists them as optional. Rejects
   * when a required view is missing or an input is not finite, and rejects, with a logged
   * reason, an output that is not finite or lies outside the manifest's plausible range.
   */
  async runFusion(
    features: Partial<Record<ViewName, Float32Array>>,
    covariates: Float32Array,
  ): Promise<FusionResult> {
    this.checkOpen();
    checkRequiredViews(this.manifest, features);
    checkCovariates(this.manifest, covariates);
    const outputs = await this.run('fusion', this.fusionFeeds(features, covariates));

    const model = `fusion model ${this.manifest.fusion.file}`;
    const read = (name: string): number => readOutput(outputs, name, 1, model)[0]!;
    const result: FusionResult = {
      bvMl: read(FUSION_OUTPUT_NAMES.bv),
      lowerMl: read(FUSION_OUTPUT_NAMES.lower),
      upperMl: read(FUSION_OUTPUT_NAMES.upper),
    };
    try {
      checkEstimate(this.manifest, result);
    } catch (error) {
      this.logRejected(error as BvEdgeError, { result });
      throw error;
    }
    return this.withFeatureRange(result, outputs);
  }

  /** Releases every session and ends the worker; later calls reject. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.stop();
    this.logger.info({ providers: this.providers }, 'inference sessions released');
  }

  private fusionFeeds(
    features: Partial<Record<ViewName, Float32Array>>,
    covariates: Float32Array,
  ): Record<string, TensorMessage> {
    const { viewOrder } = this.manifest.fusion;
    const viewCount = viewOrder.length;
    const viewFeatures = packFeatures(this.manifest, features);
    const mask = Float32Array.from(viewOrder, (view) => (features[view] ? 1 : 0));
    return {
      [FUSION_INPUT_NAMES.viewFeatures]: {
        data: viewFeatures,
        dims: [1, viewCount, viewFeatures.length / viewCount],
      },
      [FUSION_INPUT_NAMES.viewMask]: { data: mask, dims: [1, viewCount] },
      [FUSION_INPUT_NAMES.covariates]: { data: covariates, dims: [1, covariates.length] },
    };
  }

  private async run(
    key: ModelKey,
    feeds: Record<string, TensorMessage>,
  ): Promise<Record<string, OutputMessage>> {
    try {
      const { outputs } = await this.worker.request<'run'>({ type: 'run', key, feeds });
      return outputs;
    } catch (error) {
      if (!(error instanceof WorkerRequestError)) throw error;
      const file = key === 'fusion' ? this.manifest.fusion.file : this.manifest.views[key].file;
      throw new BvEdgeError(
        'model_run_failed',
        `onnxruntime failed to run ${file}: ${error.message}. ` +
          `Run bv-edge model validate on ${this.bundle.dir}.`,
        { value: key, cause: error },
      );
    }
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new BvEdgeError('engine_closed', 'The inference engine is closed; create a new one.');
    }
  }

  private logRejected(error: BvEdgeError, fields: Record<string, unknown>): void {
    this.logger.warn({ code: error.code, ...fields }, `model output rejected: ${error.message}`);
  }

  /** Adds max_abs_z when the model has it, and warns when features were clipped. */
  private withFeatureRange(
    result: FusionResult,
    outputs: Record<string, OutputMessage>,
  ): FusionResult {
    const { outputs: specs, zScoreLimit, file } = this.manifest.fusion;
    if (!specs.some((spec) => spec.name === FUSION_OUTPUT_NAMES.maxAbsZ)) return result;
    const maxAbsZ = readOutput(outputs, FUSION_OUTPUT_NAMES.maxAbsZ, 1, `fusion model ${file}`)[0]!;
    if (zScoreLimit !== undefined && maxAbsZ > zScoreLimit) {
      this.logger.warn(
        { maxAbsZ, zScoreLimit },
        'view features lie outside the training cohort; the fusion model clipped them',
      );
    }
    return { ...result, maxAbsZ };
  }

  private logReady(tensorrt: TensorRtOptions): void {
    const { name, version } = this.manifest;
    const onTensorRt = this.models.filter((model) => model.provider === 'tensorrt');
    if (onTensorRt.length > 0 && (tensorrt.fp16 || tensorrt.engineCacheDir !== undefined)) {
      this.logger.warn(
        { onnxruntime: onnxruntimeVersion(), fp16: tensorrt.fp16 ?? false },
        `onnxruntime-node ${onnxruntimeVersion()} passes only deviceId to the TensorRT provider, ` +
          'so the fp16 and engine cache settings are not applied',
      );
    }
    this.logger.info(
      { model: name, version, providers: this.providers, models: this.models },
      'inference sessions ready',
    );
  }
}

/** Converts a failed load into the error for the caller, logging each provider's failure. */
function loadError(
  error: unknown,
  bundle: ModelBundle,
  requested: readonly ExecutionProvider[],
  logger: Logger,
): unknown {
  if (!(error instanceof WorkerRequestError)) return error;
  const failures = error.value.failures ?? [];
  logProviderFailures(failures, logger);
  const reasons = failures.map(
    (failure) => `${failure.provider} on ${failure.file}: ${failure.reason}`,
  );
  const advice = requested.includes('cpu')
    ? `Run bv-edge model validate ${bundle.dir}, or restore the bundle.`
    : 'Add cpu to the providers list.';
  return new BvEdgeError(
    'execution_provider_unavailable',
    `No execution provider could load the models in ${bundle.dir}: ${reasons.join('; ') || error.message}. ${advice}`,
    { value: requested, cause: error },
  );
}
