import { join } from 'node:path';
import { z } from 'zod';
import { VIEW_NAMES, type ViewName } from '../core/image.ts';
import { BvEdgeError } from '../core/errors.ts';
import { readVerifiedFile, type ModelBundle } from './bundle.ts';
import type { FusionResult } from './checks.ts';
import type { InferenceEngine } from './engine.ts';
import { describeIssues, FUSION_OUTPUT_NAMES, type ViewInputSpec } from './manifest.ts';
import { formatViolation, type Violation } from './violation.ts';

const viewName = z.enum(VIEW_NAMES);

export const testVectorSchema = z.object({
  views: z.record(
    viewName,
    z.object({
      /** Pixel values 0–255 in the model input layout, base64; the input is (value − subtract) / divide. */
      pixelsBase64: z.string().min(1),
      expectedFeatures: z.array(z.number()).min(1),
    }),
  ),
  fusion: z.object({
    viewFeatures: z.partialRecord(viewName, z.array(z.number()).min(1)),
    covariates: z.array(z.number()).min(1),
    expected: z.object({ bvMl: z.number(), lowerMl: z.number(), upperMl: z.number() }),
  }),
});

/** Inputs and expected outputs that every runtime must reproduce within the manifest tolerance. */
export type TestVector = z.infer<typeof testVectorSchema>;

/** Reads the bundle's test vector, checks its SHA-256 against the manifest and parses it. */
export async function loadTestVector(bundle: ModelBundle): Promise<TestVector> {
  const { file, sha256 } = bundle.manifest.testVector;
  const bytes = await readVerifiedFile(bundle.dir, file, sha256, 'testVector');
  const path = join(bundle.dir, file);
  const raw: unknown = JSON.parse(new TextDecoder().decode(bytes));
  const result = testVectorSchema.safeParse(raw);
  if (!result.success) {
    throw new BvEdgeError(
      'test_vector_invalid',
      `Invalid test vector ${path}: ${describeIssues(result.error, raw)}.`,
      {
        value: path,
      },
    );
  }
  return result.data;
}

/** Decodes a test-vector clip into the normalised model input. */
export function testVectorClip(
  vector: TestVector,
  view: ViewName,
  spec: ViewInputSpec,
): Float32Array {
  const pixels = Buffer.from(vector.views[view].pixelsBase64, 'base64');
  const { subtract, divide } = spec.normalisation;
  return Float32Array.from(pixels, (value) => (value - subtract) / divide);
}

/** Encodes pixel values 0–255 for a test vector. */
export function encodeTestVectorPixels(pixels: Uint8Array): string {
  return Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength).toString('base64');
}

export interface TestVectorReport {
  passed: boolean;
  /** One per output outside the tolerance or run that failed. */
  violations: Violation[];
  /** The violations as lines, see formatViolation. */
  mismatches: string[];
}

interface Tolerance {
  absolute: number;
  relative: number;
}

/** Adds a violation for each value outside absolute + relative · |expected|. */
function compare(
  file: string,
  labels: readonly string[],
  found: ArrayLike<number>,
  expected: readonly number[],
  tolerance: Tolerance,
  violations: Violation[],
): void {
  if (found.length !== expected.length) {
    violations.push({
      file,
      field: labels[0] ?? 'output',
      found: `${found.length} values`,
      expected: `${expected.length} values from the test vector`,
    });
    return;
  }
  expected.forEach((value, i) => {
    const allowed = tolerance.absolute + tolerance.relative * Math.abs(value);
    if (!(Math.abs(found[i]! - value) <= allowed)) {
      violations.push({
        file,
        field: labels[i] ?? `output[${i}]`,
        found: String(found[i]),
        expected: `${value} ± ${Number(allowed.toPrecision(3))} (test vector)`,
      });
    }
  });
}

/**
 * Values an engine call returned, or that it rejected: an engine error about a non-finite or
 * implausible output carries the values in `value`, so that they can be compared too.
 */
async function outputsOf<T>(
  call: () => Promise<T>,
  rejected: (error: BvEdgeError) => T | undefined,
): Promise<{ value: T } | { error: Error }> {
  try {
    return { value: await call() };
  } catch (error) {
    const value = error instanceof BvEdgeError ? rejected(error) : undefined;
    return value === undefined ? { error: error as Error } : { value };
  }
}

async function checkViews(
  engine: InferenceEngine,
  vector: TestVector,
  violations: Violation[],
): Promise<void> {
  const { manifest } = engine.bundle;
  for (const view of VIEW_NAMES) {
    const spec = manifest.views[view];
    const clip = testVectorClip(vector, view, spec.input);
    const outcome = await outputsOf(
      () => engine.runView(view, clip),
      (error) =>
        error.code === 'model_output_invalid' && Array.isArray(error.value)
          ? Float32Array.from(error.value as number[])
          : undefined,
    );
    if ('error' in outcome) {
      violations.push(runFailure(spec.file, `views.${view} test-vector run`, outcome.error));
      continue;
    }
    const labels = spec.output.featureNames.map(
      (feature, i) => `output ${spec.output.name}[${i}] ${feature}`,
    );
    const expected = vector.views[view].expectedFeatures;
    compare(spec.file, labels, outcome.value, expected, manifest.testVector.tolerance, violations);
  }
}

async function checkFusion(
  engine: InferenceEngine,
  vector: TestVector,
  violations: Violation[],
): Promise<void> {
  const { manifest } = engine.bundle;
  const features: Partial<Record<ViewName, Float32Array>> = {};
  for (const [view, values] of Object.entries(vector.fusion.viewFeatures)) {
    features[view as ViewName] = Float32Array.from(values);
  }
  const covariates = Float32Array.from(vector.fusion.covariates);
  const outcome = await outputsOf(
    () => engine.runFusion(features, covariates),
    (error) =>
      error.code === 'estimate_invalid' || error.code === 'estimate_out_of_range'
        ? (error.value as FusionResult)
        : undefined,
  );
  const file = manifest.fusion.file;
  if ('error' in outcome) {
    violations.push(runFailure(file, 'fusion test-vector run', outcome.error));
    return;
  }
  const { bvMl, lowerMl, upperMl } = outcome.value;
  const { expected } = vector.fusion;
  const labels = [FUSION_OUTPUT_NAMES.bv, FUSION_OUTPUT_NAMES.lower, FUSION_OUTPUT_NAMES.upper];
  compare(
    file,
    labels.map((name) => `output ${name}`),
    [bvMl, lowerMl, upperMl],
    [expected.bvMl, expected.lowerMl, expected.upperMl],
    manifest.testVector.tolerance,
    violations,
  );
}

function runFailure(file: string, field: string, error: Error): Violation {
  return { file, field, found: `an error: ${error.message}`, expected: 'a successful run' };
}

/**
 * Runs every view model and the fusion model on the test vector and compares the outputs with
 * the expected values within the manifest tolerance. Use it to check a new runtime or provider.
 */
export async function runTestVector(
  engine: InferenceEngine,
  vector: TestVector,
): Promise<TestVectorReport> {
  const violations: Violation[] = [];
  await checkViews(engine, vector, violations);
  await checkFusion(engine, vector, violations);
  return {
    passed: violations.length === 0,
    violations,
    mismatches: violations.map(formatViolation),
  };
}
