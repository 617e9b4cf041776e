import { join } from 'node:path';
import { z } from 'zod';
import { VIEW_NAMES, type ViewName } from '../core/image.ts';
import { BvEdgeError } from '../core/errors.ts';
import { readVerifiedFile, type ModelBundle } from './bundle.ts';
import type { InferenceEngine } from './engine.ts';
import { describeIssues, type ViewInputSpec } from './manifest.ts';

const viewName = z.enum(VIEW_NAMES);

const testVectorSchema = z.object({
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
  /** One line per output outside the tolerance. */
  mismatches: string[];
}

function compare(
  label: string,
  found: ArrayLike<number>,
  expected: readonly number[],
  tolerance: { absolute: number; relative: number },
  mismatches: string[],
): void {
  if (found.length !== expected.length) {
    mismatches.push(`${label}: found ${found.length} values, expected ${expected.length}`);
    return;
  }
  expected.forEach((value, i) => {
    const allowed = tolerance.absolute + tolerance.relative * Math.abs(value);
    if (!(Math.abs(found[i]! - value) <= allowed)) {
      mismatches.push(`${label}[${i}]: found ${found[i]}, expected ${value} ± ${allowed}`);
    }
  });
}

/**
 * Runs every view model and the fusion model on the test vector and compares the outputs with
 * the expected values within the manifest tolerance. Use it to check a new runtime or provider.
 */
export async function runTestVector(
  engine: InferenceEngine,
  vector: TestVector,
): Promise<TestVectorReport> {
  const { manifest } = engine.bundle;
  const { tolerance } = manifest.testVector;
  const mismatches: string[] = [];
  for (const view of VIEW_NAMES) {
    const clip = testVectorClip(vector, view, manifest.views[view].input);
    const features = await engine.runView(view, clip);
    compare(
      `${view} features`,
      features,
      vector.views[view].expectedFeatures,
      tolerance,
      mismatches,
    );
  }
  const features: Partial<Record<ViewName, Float32Array>> = {};
  for (const [view, values] of Object.entries(vector.fusion.viewFeatures)) {
    features[view as ViewName] = Float32Array.from(values);
  }
  const fused = await engine.runFusion(features, Float32Array.from(vector.fusion.covariates));
  const { bvMl, lowerMl, upperMl } = vector.fusion.expected;
  compare(
    'fusion [bv, lower, upper]',
    [fused.bvMl, fused.lowerMl, fused.upperMl],
    [bvMl, lowerMl, upperMl],
    tolerance,
    mismatches,
  );
  return { passed: mismatches.length === 0, mismatches };
}
