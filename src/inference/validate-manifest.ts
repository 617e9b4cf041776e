import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { MANIFEST_FILE } from './bundle.ts';
import { modelManifestSchema, valueAt, type ModelManifest } from './manifest.ts';
import { describeValue, type Violation } from './violation.ts';

/** Returns the expectation part of a zod issue, e.g. "object" or "array to have >=1 items". */
function expectation(issue: z.core.$ZodIssue): string {
  // A JSON reader knows zod's tuples, such as plausibleRangeMl, as arrays.
  if (issue.code === 'invalid_type') return issue.expected === 'tuple' ? 'array' : issue.expected;
  const index = issue.message.indexOf('expected ');
  return index >= 0 ? issue.message.slice(index + 'expected '.length) : issue.message;
}

/** Turns schema issues into violations of `file`, one per issue. */
export function issueViolations(file: string, error: z.ZodError, raw: unknown): Violation[] {
  return error.issues.map((issue) => ({
    file,
    field: `field ${issue.path.map(String).join('.') || '(root)'}`,
    found: describeValue(valueAt(raw, issue.path)),
    expected: expectation(issue),
  }));
}

/**
 * Reads and checks manifest.json against the schema. Returns the manifest, or the violations
 * that stop the other checks: a missing or non-JSON file, or schema issues.
 */
export async function readManifestForValidation(
  dir: string,
): Promise<{ manifest: ModelManifest } | { violations: Violation[] }> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    const found = `no readable file (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    return { violations: [{ file: MANIFEST_FILE, field: 'file', found, expected: 'a manifest' }] };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const found = `invalid JSON (${(error as Error).message})`;
    return { violations: [{ file: MANIFEST_FILE, field: 'file', found, expected: 'JSON' }] };
  }
  const result = modelManifestSchema.safeParse(raw);
  if (!result.success) return { violations: issueViolations(MANIFEST_FILE, result.error, raw) };
  return { manifest: result.data };
}
