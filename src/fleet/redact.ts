import { isPatientIdentifierKey } from './payloads.ts';

/** Keys whose values are secrets, in config objects and log lines. */
const SECRET_KEY = /^(password|passwd|token|secret|api_?key|private_?key|authorization|cookie)$/i;

/** Replacement text of a removed value. */
export const REDACTED = '[redacted]';

/** Returns true when `key` names a secret such as a password or token. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * Returns a deep copy of `value` with the values under secret keys replaced by REDACTED, and,
 * when `patientKeys` is set, those under patient identifier keys too.
 */
export function redact(value: unknown, options: { patientKeys?: boolean } = {}): unknown {
  if (Array.isArray(value)) return value.map((item) => redact(item, options));
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const hidden =
      isSecretKey(key) || (options.patientKeys === true && isPatientIdentifierKey(key));
    copy[key] = hidden ? REDACTED : redact(inner, options);
  }
  return copy;
}
