/** One way a model bundle breaks its contract, as `bv-edge model validate` reports it. */
export interface Violation {
  /** File in the bundle where the problem is, e.g. "manifest.json" or "view-ijv.onnx". */
  file: string;
  /** Manifest field, model input or output, or test-vector entry concerned. */
  field: string;
  found: string;
  expected: string;
}

/** Formats a violation as one line: file, field, found value and expected value. */
export function formatViolation(violation: Violation): string {
  const { file, field, found, expected } = violation;
  return `${file}: ${field}: found ${found}; expected ${expected}`;
}

/** Shortens a value for a violation line; `undefined` reads "nothing". */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number') return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
