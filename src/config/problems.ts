import type { z } from 'zod';
import { BvEdgeError } from '../core/errors.ts';

/** One thing wrong with a config, at a dotted key path such as `mqtt.url`. */
export interface ConfigProblem {
  path: string;
  message: string;
  /** The value found, undefined for a missing key; left out when the problem has no value. */
  value?: unknown;
  /** The environment variable that gave the value, for problems of environment overrides. */
  variable?: string;
}

/**
 * Keys whose values are secrets when someone writes them inline instead of naming a file. Their
 * values never appear in messages.
 */
const SECRET_KEY = /^(password|passwd|token|secret|apiKey|privateKey)$/i;

export function joinPath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** Converts zod issues into problems, one per unknown key so that each names its own path. */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const parent = (issue.input ?? {}) as Record<string, unknown>;
      for (const key of issue.keys) {
        problems.push({
          path: joinPath([...issue.path, key]),
          message: 'unknown key; check the spelling against `bv-edge config defaults`',
          value: parent[key],
        });
      }
      continue;
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) {
      problems.push({
        path: joinPath(issue.path),
        message: `missing (expected ${issue.expected})`,
      });
      continue;
    }
    if (issue.code === 'custom' && (issue.input === undefined || isPlainObject(issue.input))) {
      // A cross-field check names the values it compared in its message. Its input is the
      // whole object it checked, which would only repeat the config.
      problems.push({ path: joinPath(issue.path), message: issue.message });
      continue;
    }
    problems.push({ path: joinPath(issue.path), message: issue.message, value: issue.input });
  }
  return problems;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Formats the value found for a message; values under secret-looking keys are hidden. */
export function describeValue(path: string, value: unknown): string {
  const key = path.split('.').pop() ?? '';
  if (SECRET_KEY.test(key)) return 'a value (hidden because the key names a secret)';
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value, (name, inner: unknown) =>
    SECRET_KEY.test(name) ? '[hidden]' : inner,
  );
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export function formatProblem(problem: ConfigProblem): string {
  const where = problem.path === '' ? '(top level)' : problem.path;
  if (!('value' in problem)) return `${where}: ${problem.message}`;
  return `${where}: ${problem.message} (found ${describeValue(problem.path, problem.value)})`;
}

/**
 * Builds the error for a config with problems; the message lists every problem on its own line,
 * and `value` contains them with secret values removed.
 */
export function configError(sources: string, problems: readonly ConfigProblem[]): BvEdgeError {
  const lines = problems.map((problem) => `  ${formatProblem(problem)}`);
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return new BvEdgeError(
    'config_invalid',
    `Invalid config from ${sources}, ${count}:\n${lines.join('\n')}\n` +
      'Fix each key and run `bv-edge config check FILE` again.',
    {
      value: problems.map((problem) => ({
        path: problem.path,
        message: problem.message,
        ...('value' in problem && { found: describeValue(problem.path, problem.value) }),
      })),
    },
  );
}
