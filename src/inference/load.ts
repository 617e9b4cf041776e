import { mkdir } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { BvEdgeError } from '../core/errors.ts';
import { VIEW_NAMES } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import type { ModelBundle } from './bundle.ts';
import { missingProviderReason } from './providers.ts';
import {
  detectGpuName,
  engineCachePath,
  hasCachedEngine,
  type TensorRtOptions,
} from './tensorrt.ts';
import type {
  ExecutionProvider,
  ModelKey,
  ModelLoadSpec,
  ProviderFailure,
  SessionStartingEvent,
  TensorRtProviderSettings,
} from './worker-protocol.ts';

/** onnxruntime version of the native binding, e.g. "1.31.1". */
export function onnxruntimeVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common;
}

/**
 * Drops the providers whose libraries are missing, logging one warning with the reason for each.
 * Throws when none is left.
 */
export function availableProviders(
  providers: readonly ExecutionProvider[],
  bundleDir: string,
  logger: Logger,
): ExecutionProvider[] {
  const available: ExecutionProvider[] = [];
  const reasons: string[] = [];
  for (const [i, provider] of providers.entries()) {
    const missing = missingProviderReason(provider);
    if (missing === null) {
      available.push(provider);
      continue;
    }
    reasons.push(`${provider}: ${missing}`);
    logger.warn(
      { provider, reason: missing, next: providers[i + 1] ?? null },
      `execution provider ${provider} unavailable, skipped`,
    );
  }
  if (available.length === 0) {
    throw new BvEdgeError(
      'execution_provider_unavailable',
      `No execution provider could load the models in ${bundleDir}: ${reasons.join('; ')}. ` +
        'Add cpu to the providers list.',
      { value: providers },
    );
  }
  return available;
}

/** Names each model by its key with its file, manifest order: views first, then fusion. */
export function bundleModels(
  bundle: ModelBundle,
): { key: ModelKey; file: string; sha256: string; bytes: Uint8Array }[] {
  const { manifest } = bundle;
  return [
    ...VIEW_NAMES.map((view) => ({
      key: view,
      file: manifest.views[view].file,
      sha256: manifest.views[view].sha256,
      bytes: bundle.viewModels[view],
    })),
    {
      key: 'fusion' as const,
      file: manifest.fusion.file,
      sha256: manifest.fusion.sha256,
      bytes: bundle.fusionModel,
    },
  ];
}

function modelInputs(bundle: ModelBundle, key: ModelKey): { name: string; dims: number[] }[] {
  const { manifest } = bundle;
  if (key !== 'fusion') {
    const input = manifest.views[key].input;
    return [{ name: input.name, dims: input.shape }];
  }
  return manifest.fusion.inputs.map((input) => ({ name: input.name, dims: input.shape }));
}

async function createCacheFolder(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (cause) {
    throw new BvEdgeError(
      'tensorrt_cache_invalid',
      `Cannot create the TensorRT engine cache folder ${path}: ${(cause as Error).message}. ` +
        'Set the engine cache folder to a writable path, or leave it unset.',
      { value: path, cause },
    );
  }
}

/**
 * Builds what the worker needs per model. With tensorrt among the providers and a cache folder
 * set, it names the GPU and creates each model's engine cache folder.
 */
export async function modelLoadSpecs(
  bundle: ModelBundle,
  providers: readonly ExecutionProvider[],
  options: TensorRtOptions,
): Promise<ModelLoadSpec[]> {
  const deviceId = options.deviceId ?? 0;
  const cacheRoot = providers.includes('tensorrt') ? options.engineCacheDir : undefined;
  const gpuName = cacheRoot === undefined ? null : await detectGpuName(deviceId);
  const specs: ModelLoadSpec[] = [];
  for (const model of bundleModels(bundle)) {
    let engineCachePathOfModel: string | null = null;
    if (cacheRoot !== undefined && gpuName !== null) {
      engineCachePathOfModel = engineCachePath(
        cacheRoot,
        model.sha256,
        onnxruntimeVersion(),
        gpuName,
      );
      await createCacheFolder(engineCachePathOfModel);
    }
    const tensorrt: TensorRtProviderSettings = {
      deviceId,
      fp16: options.fp16 ?? false,
      engineCachePath: engineCachePathOfModel,
    };
    specs.push({
      key: model.key,
      file: model.file,
      bytes: model.bytes,
      inputs: modelInputs(bundle, model.key),
      tensorrt,
    });
  }
  return specs;
}

/** Logs one warning per provider that failed, naming the models it failed on and why. */
export function logProviderFailures(failures: readonly ProviderFailure[], logger: Logger): void {
  const byProvider = new Map<ExecutionProvider, ProviderFailure[]>();
  for (const failure of failures) {
    byProvider.set(failure.provider, [...(byProvider.get(failure.provider) ?? []), failure]);
  }
  for (const [provider, list] of byProvider) {
    const files = list.map((failure) => failure.file);
    const reasons = [...new Set(list.map((failure) => failure.reason))];
    logger.warn(
      { provider, files, reason: reasons.join('; ') },
      `execution provider ${provider} could not load ${files.join(', ')}, skipped`,
    );
  }
}

/** Logs a clear line before TensorRT builds an engine, which can take minutes on a Jetson. */
export function logEngineBuild(
  event: SessionStartingEvent,
  specs: readonly ModelLoadSpec[],
  logger: Logger,
): void {
  if (event.provider !== 'tensorrt') return;
  const cachePath = specs.find((spec) => spec.key === event.key)?.tensorrt.engineCachePath ?? null;
  if (cachePath !== null && hasCachedEngine(cachePath)) {
    logger.info({ file: event.file, cachePath }, 'loading cached TensorRT engine');
    return;
  }
  logger.warn(
    { file: event.file, cachePath },
    `building the TensorRT engine for ${event.file}; the first build can take several minutes ` +
      `on a Jetson${cachePath === null ? ', and without an engine cache folder it repeats at every load' : ''}`,
  );
}
