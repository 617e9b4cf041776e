import type { Notice } from './notice.ts';

/**
 * The one error class that crosses subsystem boundaries. `code` is stable for programs,
 * `message` names the offending value and the fix for people. An error built from a notice keeps
 * it, so that the page can show the message in the operator's language.
 */
export class BvEdgeError extends Error {
  readonly code: string;
  readonly value: unknown;
  readonly notice: Notice | undefined;

  constructor(
    code: string,
    message: string | Notice,
    options: { value?: unknown; cause?: unknown } = {},
  ) {
    super(typeof message === 'string' ? message : message.text, { cause: options.cause });
    this.name = 'BvEdgeError';
    this.code = code;
    this.value = options.value;
    this.notice = typeof message === 'string' ? undefined : message;
  }
}
