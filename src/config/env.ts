import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import type { ConfigProblem } from './problems.ts';
import { childKeys, leafKind, unwrapSchema } from './schema-walk.ts';

/** Environment variables that set one config key start with this, e.g. BV_EDGE__MQTT__URL. */
export const ENV_PREFIX = 'BV_EDGE__';
/** Separates the levels of the key path in a variable name. */
const ENV_SEPARATOR = '__';

/** Older variables of the one-shot commands, kept because scripts and the README use them. */
const LEGACY_VARIABLES: Record<string, string[]> = {
  BV_EDGE_HOME: ['dataDir'],
  BV_EDGE_MODEL_DIR: ['modelDir'],
};

export type Environment = Record<string, string | undefined>;

export interface EnvOverrides {
  /** A partial config object with the values of the variables, parsed by each key's type. */
  values: Record<string, unknown>;
  /** Names of the variables that were applied, in the order applied. */
  names: string[];
  problems: ConfigProblem[];
}

/** Returns the variable name of a key path: `mqtt.publishTimeoutMs` is BV_EDGE__MQTT__PUBLISH_TIMEOUT_MS. */
export function envVariableName(path: readonly string[]): string {
  return ENV_PREFIX + path.map(toEnvSegment).join(ENV_SEPARATOR);
}

function toEnvSegment(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/**
 * Reads every BV_EDGE__* variable (and the legacy BV_EDGE_HOME and BV_EDGE_MODEL_DIR) into a
 * partial config object. A variable that names no key, or whose value cannot be read as that
 * key's type, becomes a problem. The schema reports values of the right type but out of range.
 */
export function overridesFromEnv(schema: z.ZodType, env: Environment): EnvOverrides {
  const result: EnvOverrides = { values: {}, names: [], problems: [] };
  for (const [name, path] of Object.entries(LEGACY_VARIABLES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(result.values, path, raw);
    result.names.push(name);
  }
  const names = Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX))
    .sort();
  for (const name of names) {
    applyVariable(schema, name, env[name] ?? '', result);
  }
  return result;
}

function applyVariable(schema: z.ZodType, name: string, raw: string, result: EnvOverrides): void {
  const resolved = resolveKeyPath(schema, name.slice(ENV_PREFIX.length).split(ENV_SEPARATOR));
  if (!resolved) {
    const closest = closestVariableName(schema, name);
    result.problems.push({
      path: name,
      message:
        closest === null
          ? 'no config key matches this environment variable; run `bv-edge config defaults` ' +
            'for the keys'
          : `no config key matches this environment variable; did you mean ${closest}? Each ` +
            'camelCase word of a key is its own underscore-separated segment',
      value: raw,
      variable: name,
    });
    return;
  }
  const parsed = parseValue(resolved.schemas, raw);
  if (parsed.error !== undefined) {
    result.problems.push({
      path: `${name} (${resolved.path.join('.')})`,
      message: parsed.error,
      value: raw,
      variable: name,
    });
    return;
  }
  setPath(result.values, resolved.path, parsed.value);
  result.names.push(name);
}

/** Finds the key path that the segments of a variable name spell, or null when none matches. */
function resolveKeyPath(
  schema: z.ZodType,
  segments: readonly string[],
): { path: string[]; schemas: z.ZodType[] } | null {
  let current: z.ZodType[] = [schema];
  const path: string[] = [];
  for (const segment of segments) {
    const next: z.ZodType[] = [];
    let key: string | undefined;
    for (const parent of current) {
      for (const [childKey, children] of childKeys(parent)) {
        if (toEnvSegment(childKey) !== segment) continue;
        key = childKey;
        next.push(...children);
      }
    }
    if (key === undefined) return null;
    path.push(key);
    current = next;
  }
  return path.length === 0 ? null : { path, schemas: current };
}

/**
 * Returns the variable name of the config key closest to `name`: the one that differs only in
 * underscores and case, or else the one within a few letters of it; null when none is near.
 */
function closestVariableName(schema: z.ZodType, name: string): string | null {
  const squeeze = (text: string): string => text.replaceAll('_', '').toUpperCase();
  const wanted = squeeze(name);
  let best: { name: string; distance: number } | null = null;
  for (const path of keyPaths(schema, [])) {
    const candidate = envVariableName(path);
    const distance = editDistance(wanted, squeeze(candidate));
    if (best === null || distance < best.distance) best = { name: candidate, distance };
  }
  // A few typing slips; a larger distance would suggest an unrelated key.
  return best !== null && best.distance <= 3 ? best.name : null;
}

/** Lists the key path of every key under `schema`, objects included. */
function keyPaths(schema: z.ZodType, prefix: string[]): string[][] {
  const paths: string[][] = [];
  for (const [key, children] of childKeys(schema)) {
    const path = [...prefix, key];
    paths.push(path);
    for (const child of children) paths.push(...keyPaths(child, path));
  }
  return paths;
}

/** Levenshtein distance: the fewest single-character insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Reads a variable's text as the key's type; YAML flow syntax gives arrays and objects. */
function parseValue(schemas: z.ZodType[], raw: string): { value?: unknown; error?: string } {
  const schema = schemas[0]!;
  if (raw === 'null' && unwrapSchema(schema).nullable) return { value: null };
  switch (leafKind(schema)) {
    case 'string':
      return { value: raw };
    case 'number': {
      const value = Number(raw);
      return raw.trim() !== '' && Number.isFinite(value)
        ? { value }
        : { error: 'expected a number' };
    }
    case 'boolean':
      if (raw === 'true' || raw === '1') return { value: true };
      if (raw === 'false' || raw === '0') return { value: false };
      return { error: 'expected true or false' };
    case 'array':
      if (raw.trim().startsWith('[')) return parseFlow(raw);
      return { value: raw.split(',').map((item) => item.trim()) };
    default:
      return parseFlow(raw);
  }
}

function parseFlow(raw: string): { value?: unknown; error?: string } {
  try {
    return { value: parseYaml(raw) as unknown };
  } catch (cause) {
    return { error: `expected YAML or JSON such as {x: 10, y: 20}: ${(cause as Error).message}` };
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    if (typeof child !== 'object' || child === null || Array.isArray(child)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}
