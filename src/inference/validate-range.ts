import { MANIFEST_FILE } from './bundle.ts';
import type { ModelManifest } from './manifest.ts';
import type { TestVector } from './test-vector.ts';
import type { Violation } from './violation.ts';

/**
 * Returns a violation when the test vector's expected estimate lies outside the manifest's
 * plausibleRangeMl, or null. Such a bundle's test vector matches its models, but the engine
 * rejects the same estimate on live data, so the bundle could never pass a health gate.
 */
export function checkVectorInRange(manifest: ModelManifest, vector: TestVector): Violation | null {
  const [min, max] = manifest.plausibleRangeMl;
  const { bvMl } = vector.fusion.expected;
  if (bvMl >= min && bvMl <= max) return null;
  return {
    file: MANIFEST_FILE,
    field: 'field plausibleRangeMl',
    found: `[${min}, ${max}] mL`,
    expected: `a range that contains ${bvMl} mL, the fusion.expected.bvMl of test vector ${manifest.testVector.file}`,
  };
}
