/**
 * The one error class that crosses subsystem boundaries. `code` is stable for programs,
 * `message` names the offending value and the fix for people.
 */
export class BvEdgeError extends Error {
  readonly code: string;
  readonly value: unknown;

  constructor(code: string, message: string, options: { value?: unknown; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'BvEdgeError';
    this.code = code;
    this.value = options.value;
  }
}
