import { VIEW_NAMES, type ViewName } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import type { ModelBundle } from './bundle.ts';
import { product } from './checks.ts';
import { InferenceEngine, type ExecutionProvider, type ModelKey } from './engine.ts';
import { onnxruntimeVersion } from './load.ts';
import type { ModelManifest } from './manifest.ts';
import type { TensorRtOptions } from './tensorrt.ts';
import { runTestVector, testVectorSchema, type TestVector } from './test-vector.ts';
import { issueViolations, readManifestForValidation } from './validate-manifest.ts';
import { checkFiles, checkModels } from './validate-models.ts';
import { checkVectorInRange } from './validate-range.ts';
import type { Violation } from './violation.ts';
import { WorkerRequestError } from './worker-client.ts';

export interface ValidateOptions {
  /** Providers to load the models on for the test vector, in order. */
  providers: readonly ExecutionProvider[];
  logger: Logger;
  tensorrt?: TensorRtOptions;
}

export interface ValidationReport {
  dir: string;
  manifest: ModelManifest | null;
  violations: Violation[];
  /** False when earlier violations kept the models from being loaded and the test vector run. */
  ranTestVector: boolean;
  /** Execution provider each model ran the test vector on. */
  providers: Partial<Record<ModelKey, ExecutionProvider>>;
}

/**
 * Checks a model bundle against the contract: the manifest schema, every checksum, the opset and
 * the names, dtypes and shapes of each model's inputs and outputs. When those pass, it loads
 * every model and runs the stored test vector, comparing outputs within the manifest tolerance.
 * Returns every violation found; it throws only on errors of its own.
 */
export async function validateBundle(
  dir: string,
  options: ValidateOptions,
): Promise<ValidationReport> {
  const report: ValidationReport = {
    dir,
    manifest: null,
    violations: [],
    ranTestVector: false,
    providers: {},
  };
  const read = await readManifestForValidation(dir);
  if ('violations' in read) {
    report.violations.push(...read.violations);
    return report;
  }
  const { manifest } = read;
  report.manifest = manifest;
  const files = await checkFiles(dir, manifest, report.violations);
  checkModels(manifest, files, report.violations);
  const vector = parseVector(manifest, files.get('testVector'), report.violations);
  if (report.violations.length > 0 || !vector) return report;

  const bundle: ModelBundle = {
    dir,
    manifest,
    viewModels: Object.fromEntries(VIEW_NAMES.map((view) => [view, files.get(view)!])) as Record<
      ViewName,
      Uint8Array
    >,
    fusionModel: files.get('fusion')!,
  };
  await runVector(bundle, vector, options, report);
  return report;
}

/** Parses the test vector and checks that its sizes match the manifest. */
function parseVector(
  manifest: ModelManifest,
  bytes: Uint8Array | undefined,
  violations: Violation[],
): TestVector | null {
  if (!bytes) return null;
  const file = manifest.testVector.file;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    violations.push({ file, field: 'file', found: (error as Error).message, expected: 'JSON' });
    return null;
  }
  const result = testVectorSchema.safeParse(raw);
  if (!result.success) {
    violations.push(...issueViolations(file, result.error, raw));
    return null;
  }
  const before = violations.length;
  checkVectorSizes(manifest, result.data, violations);
  const outOfRange = checkVectorInRange(manifest, result.data);
  if (outOfRange) violations.push(outOfRange);
  return violations.length === before ? result.data : null;
}

function checkVectorSizes(
  manifest: ModelManifest,
  vector: TestVector,
  violations: Violation[],
): void {
  const file = manifest.testVector.file;
  const push = (field: string, found: number, expected: number, unit: string): void => {
    if (found !== expected) {
      violations.push({ file, field, found: `${found} ${unit}`, expected: `${expected} ${unit}` });
    }
  };
  for (const view of VIEW_NAMES) {
    const spec = manifest.views[view];
    const pixels = Buffer.from(vector.views[view].pixelsBase64, 'base64').length;
    push(`field views.${view}.pixelsBase64`, pixels, product(spec.input.shape), 'pixel values');
    const features = spec.output.featureNames.length;
    push(
      `field views.${view}.expectedFeatures`,
      vector.views[view].expectedFeatures.length,
      features,
      'values',
    );
    const fused = vector.fusion.viewFeatures[view];
    if (fused) push(`field fusion.viewFeatures.${view}`, fused.length, features, 'values');
  }
  push(
    'field fusion.covariates',
    vector.fusion.covariates.length,
    manifest.covariates.length,
    'values',
  );
}

/** Loads the models on the requested providers and runs the test vector, adding violations. */
async function runVector(
  bundle: ModelBundle,
  vector: TestVector,
  options: ValidateOptions,
  report: ValidationReport,
): Promise<void> {
  let engine: InferenceEngine;
  try {
    engine = await InferenceEngine.create(bundle, {
      providers: options.providers,
      logger: options.logger,
      ...(options.tensorrt && { tensorrt: options.tensorrt }),
    });
  } catch (error) {
    report.violations.push(...loadViolations(bundle, error as Error));
    return;
  }
  try {
    report.providers = engine.providers;
    const result = await runTestVector(engine, vector);
    report.violations.push(...result.violations);
    report.ranTestVector = true;
  } finally {
    await engine.close();
  }
}

function loadViolations(bundle: ModelBundle, error: Error): Violation[] {
  const expected = `a model that onnxruntime ${onnxruntimeVersion()} loads`;
  const cause = error.cause;
  if (cause instanceof WorkerRequestError && cause.value.failures?.length) {
    return cause.value.failures.map((failure) => ({
      file: failure.file,
      field: `load on ${failure.provider}`,
      found: `an error: ${failure.reason}`,
      expected,
    }));
  }
  return [{ file: bundle.dir, field: 'load', found: `an error: ${error.message}`, expected }];
}
