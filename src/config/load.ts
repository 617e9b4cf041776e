import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { BvEdgeError } from '../core/errors.ts';
import { overridesFromEnv, type Environment } from './env.ts';
import { migrateConfig } from './migrate.ts';
import { configError, problemsFromIssues, type ConfigProblem } from './problems.ts';
import { ConfigSchema, type Config, type ConfigInput } from './schema.ts';

export interface ConfigSources {
  /** YAML or JSON config file; left out, the defaults apply. */
  file?: string;
  /** Environment to read BV_EDGE__* overrides from; default process.env. */
  env?: Environment;
  /** Values that win over the file and the environment, such as command-line options. */
  overrides?: ConfigInput;
}

export interface LoadedConfig {
  config: Config;
  file: string | null;
  /** Version the file was written in, or null without a file. */
  fileVersion: number | null;
  /** The migration steps applied to the file; empty when it was current. */
  migrationSteps: string[];
  /** Environment variables that set a key. */
  envVariables: string[];
}

/**
 * Builds the config from, in rising precedence, the schema defaults, the file, the environment
 * and `overrides`. Throws `config_invalid` listing every problem of all three at once, each with
 * its key path and the value found, or `config_file_unreadable` when the file cannot be read.
 */
export function resolveConfig(sources: ConfigSources = {}): LoadedConfig {
  const problems: ConfigProblem[] = [];
  let fromFile: Record<string, unknown> = {};
  let fileVersion: number | null = null;
  let migrationSteps: string[] = [];
  if (sources.file !== undefined) {
    const read = readConfigFile(sources.file);
    const migrated = migrateConfig(read.raw);
    problems.push(...read.problems, ...migrated.problems);
    fromFile = migrated.config;
    fileVersion = migrated.fromVersion;
    migrationSteps = migrated.steps;
  }
  const env = overridesFromEnv(ConfigSchema, sources.env ?? process.env);
  problems.push(...env.problems);
  const envNames = [...env.names, ...env.problems.map((problem) => problem.variable ?? '')];

  const merged = mergeConfig(mergeConfig(fromFile, env.values), sources.overrides ?? {});
  const parsed = ConfigSchema.safeParse(merged, { reportInput: true });
  if (!parsed.success) {
    const versionReported = problems.some((problem) => problem.path === 'version');
    const schemaProblems = problemsFromIssues(parsed.error.issues);
    problems.push(...schemaProblems.filter((p) => !(versionReported && p.path === 'version')));
    problems.push(...crossFieldProblems(merged, problems));
  }
  if (problems.length > 0 || !parsed.success) {
    throw configError(describeSources(sources.file, envNames.filter(Boolean)), problems);
  }
  return {
    config: parsed.data,
    file: sources.file ?? null,
    fileVersion,
    migrationSteps,
    envVariables: env.names,
  };
}

/**
 * Builds the config from the defaults, the BV_EDGE__* environment, an optional file and
 * `overrides`; see resolveConfig for the precedence and the errors.
 */
export function loadConfig(
  overrides: ConfigInput = {},
  options: { file?: string; env?: Environment } = {},
): Config {
  return resolveConfig({ ...options, overrides }).config;
}

/**
 * Returns the problems of cross-field checks that zod skipped. zod runs an object's refinements
 * only when every key inside it is valid, so a missing hl7.host or http.tokenFile would show up
 * only after the other keys were fixed. This parses again with every reported key removed, so
 * that the defaults stand in for them, and keeps the problems at paths not reported yet.
 */
function crossFieldProblems(
  merged: Record<string, unknown>,
  reported: readonly ConfigProblem[],
): ConfigProblem[] {
  const pruned = structuredClone(merged);
  const removed = reported.map((problem) => removePath(pruned, problem.path.split('.')));
  const parsed = ConfigSchema.safeParse(pruned, { reportInput: true });
  if (parsed.success) return [];
  const overlaps = (path: string, other: string): boolean =>
    path === other || path.startsWith(`${other}.`) || other.startsWith(`${path}.`);
  return problemsFromIssues(parsed.error.issues).filter(
    (problem) =>
      problem.path !== '' && !removed.some((path) => path !== '' && overlaps(problem.path, path)),
  );
}

/**
 * Deletes the key at `path` from `root`. A path into an array deletes the whole array. Returns
 * the dotted path of the key deleted, or of the first key found absent, and '' for an empty path.
 */
function removePath(root: Record<string, unknown>, path: readonly string[]): string {
  let parent: Record<string, unknown> = root;
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    if (key === '' || !Object.hasOwn(parent, key)) return path.slice(0, i + 1).join('.');
    const value = parent[key];
    if (i === path.length - 1 || Array.isArray(value) || !isPlainObject(value)) {
      delete parent[key];
      return path.slice(0, i + 1).join('.');
    }
    parent = value;
  }
  return '';
}

function describeSources(file: string | undefined, envNames: readonly string[]): string {
  const parts = [file ?? 'defaults'];
  if (envNames.length > 0) parts.push(`environment (${envNames.join(', ')})`);
  return parts.join(' and ');
}

/**
 * Reads a config file: JSON when it ends in .json, YAML otherwise. Syntax errors are returned as
 * problems with their line and column, so that they are reported with the rest.
 */
export function readConfigFile(path: string): {
  raw: Record<string, unknown>;
  problems: ConfigProblem[];
} {
  const text = readText(path);
  const parsed = extname(path).toLowerCase() === '.json' ? parseJson(text) : parseYamlText(text);
  if (parsed.problems.length > 0) return { raw: {}, problems: parsed.problems };
  const value = parsed.value ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    return {
      raw: {},
      problems: [{ path: '', message: 'expected a mapping of keys to values', value }],
    };
  }
  return { raw: value as Record<string, unknown>, problems: [] };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'not found' : `unreadable (${code ?? String(cause)})`;
    throw new BvEdgeError(
      'config_file_unreadable',
      `Config file ${path} is ${reason}. Check the path; \`bv-edge config defaults\` prints a ` +
        'complete file to start from.',
      { value: path, cause },
    );
  }
}

function parseJson(text: string): { value?: unknown; problems: ConfigProblem[] } {
  try {
    return { value: JSON.parse(text) as unknown, problems: [] };
  } catch (cause) {
    return { problems: [{ path: '', message: `invalid JSON: ${(cause as Error).message}` }] };
  }
}

function parseYamlText(text: string): { value?: unknown; problems: ConfigProblem[] } {
  const lines = new LineCounter();
  const document = parseDocument(text, {
    uniqueKeys: true,
    prettyErrors: false,
    lineCounter: lines,
  });
  if (document.errors.length > 0) {
    return {
      problems: document.errors.map((error) => {
        const at = lines.linePos(error.pos[0]);
        return {
          path: '',
          message: `invalid YAML: line ${at.line}, column ${at.col}: ${error.message}`,
        };
      }),
    };
  }
  return { value: document.toJS() as unknown, problems: [] };
}

/**
 * Merges `override` into `base`: objects key by key, everything else replaced. An object with a
 * different `kind`, such as another capture source, replaces the old one whole.
 */
export function mergeConfig(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === undefined) continue;
    const current = merged[key];
    const mergeable = isPlainObject(current) && isPlainObject(value) && sameVariant(current, value);
    merged[key] = mergeable ? mergeConfig(current, value) : value;
  }
  return merged;
}

function sameVariant(base: Record<string, unknown>, override: Record<string, unknown>): boolean {
  return override.kind === undefined || base.kind === undefined || override.kind === base.kind;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
