import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

import { Document, isMap, parseDocument } from 'yaml';
import type { z } from 'zod';

import { ConfigSchema, resolveConfig, type Config, type Environment } from '../config/index.ts';
import { childKeys } from '../config/schema-walk.ts';
import { BvEdgeError } from '../core/errors.ts';
import { findPatientIdentifier, isPatientIdentifierKey } from './payloads.ts';
import { redact } from './redact.ts';

export interface ConfigChange {
  /** Keys to set, nested as in the file, e.g. { fleet: { telemetryIntervalS: 30 } }. */
  values: Record<string, unknown>;
  /** Dotted key paths to remove from the file, so that their defaults apply again. */
  unset: string[];
}

export interface ConfigChangeResult {
  /** The effective config after the change. */
  config: Config;
  /** Dotted key paths whose effective value changed, sorted. */
  changedKeys: string[];
  /** Effective values of the changed keys before and after, secret-named keys hidden. */
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}

/**
 * Applies `change` to the config file `file` whole or not at all. The new file is written next
 * to the old one and validated by the same loader as at start-up, with this process's
 * environment overrides. Only a valid file replaces the old one, by rename, so a crash leaves
 * either the old or the new file. YAML comments and key order are kept. The changed keys are
 * measured against what the file gave before, or against `running` when the old file does not
 * load. Throws config_invalid listing every problem with its key path (never the value of an
 * unknown or patient identifier key), config_key_not_found for an unset key that does not exist,
 * config_file_unreadable, or config_not_writable when the folder or file cannot be written.
 */
export async function applyConfigChange(
  file: string,
  change: ConfigChange,
  options: { env?: Environment; running: Config },
): Promise<ConfigChangeResult> {
  const env = options.env ?? process.env;
  checkValues(change.values);
  const original = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new BvEdgeError(
      'config_file_unreadable',
      `Config file ${file} cannot be read (${(cause as Error).message}); check that it exists.`,
      { value: file, cause },
    );
  });
  const previous = effectiveConfig(file, env) ?? options.running;
  checkUnsetKeys(change.unset);
  const text =
    extname(file).toLowerCase() === '.json'
      ? editJson(original, change)
      : editYaml(original, change);
  // The temporary name keeps the extension, because the loader picks JSON or YAML by it.
  const temp = join(dirname(file), `.${randomBytes(6).toString('hex')}.${basename(file)}`);
  let next: Config;
  try {
    await writeFile(temp, text, { mode: (await stat(file)).mode & 0o777, flag: 'wx' }).catch(
      (cause: unknown) => {
        throw notWritable(file, cause);
      },
    );
    next = validate(temp, file, env);
    await syncFile(temp);
    await rename(temp, file).catch((cause: unknown) => {
      throw notWritable(file, cause);
    });
  } finally {
    await rm(temp, { force: true });
  }
  await syncFile(dirname(file)).catch(() => undefined);
  return { config: next, ...diffConfigs(previous, next) };
}

/** Error codes of a folder or file that this process may not write. */
const NOT_WRITABLE_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

/** Turns a permission error into config_not_writable; returns any other error unchanged. */
function notWritable(file: string, cause: unknown): unknown {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === undefined || !NOT_WRITABLE_CODES.has(code)) return cause;
  const folder = dirname(file);
  return new BvEdgeError(
    'config_not_writable',
    `Config file ${file} cannot be changed: the daemon may not write in ${folder} (${code}). ` +
      `Give the daemon's group write permission on ${folder} and on the file, and, under ` +
      `systemd, list ${folder} in ReadWritePaths=; deploy/install-jetson.sh sets up both. ` +
      'The file was left unchanged.',
    { value: file, cause },
  );
}

/** Rejects values under patient identifier keys before anything is written or echoed. */
function checkValues(values: Record<string, unknown>): void {
  const found = findPatientIdentifier(values);
  if (found === null) return;
  throw new BvEdgeError(
    'config_invalid',
    `Config key ${found} names a patient identifier, and the config never holds patient data; ` +
      'remove it from the request. The file was left unchanged.',
    { value: found },
  );
}

/**
 * Rejects unsetting `version`, which the loader needs to migrate the file, and any key path that
 * the config schema does not define, as config-get does.
 */
function checkUnsetKeys(keys: readonly string[]): void {
  for (const key of keys) {
    if (key === 'version') {
      throw new BvEdgeError(
        'config_key_required',
        'Config key "version" cannot be unset: it tells the loader which migrations the file ' +
          'needs. Leave it in the file.',
        { value: key },
      );
    }
    if (!isSchemaKey(key.split('.'))) {
      throw new BvEdgeError(
        'config_key_not_found',
        `Config key ${JSON.stringify(key)} does not exist, so it cannot be unset; run ` +
          'config-get without a key to list every key.',
        { value: key },
      );
    }
  }
}

/** Returns true when the schema, in any variant of a union such as capture.source, has `path`. */
function isSchemaKey(path: readonly string[]): boolean {
  let schemas: z.ZodType[] = [ConfigSchema];
  for (const part of path) {
    schemas = schemas.flatMap((schema) => childKeys(schema).get(part) ?? []);
    if (schemas.length === 0) return false;
  }
  return true;
}

/** Loads the config that `file` gives now; null when it does not load, e.g. after a hand edit. */
function effectiveConfig(file: string, env: Environment): Config | null {
  try {
    return resolveConfig({ file, env }).config;
  } catch {
    return null;
  }
}

function validate(temp: string, file: string, env: Environment): Config {
  try {
    return resolveConfig({ file: temp, env }).config;
  } catch (error) {
    if (!(error instanceof BvEdgeError)) throw error;
    // The loader names the temporary file, so the message is rewritten to name the real one.
    const message =
      error.code === 'config_invalid' && Array.isArray(error.value)
        ? describeProblems(`${file} with the requested change`, error.value as ConfigProblemInfo[])
        : error.message.replaceAll(temp, `${file} with the requested change`);
    throw new BvEdgeError(error.code, `${message}\nThe file was left unchanged.`, {
      value: error.value,
      cause: error,
    });
  }
}

/** One entry of a config_invalid error's value, as the config loader builds it. */
interface ConfigProblemInfo {
  path: string;
  message: string;
  found?: string;
}

/**
 * Lists the loader's problems like its own message does, without the value found under an
 * unknown key or a patient identifier key. A response or log line must not repeat what a
 * requester typed by mistake, such as a patient's name.
 */
function describeProblems(source: string, problems: readonly ConfigProblemInfo[]): string {
  const lines = problems.map((problem) => {
    const where = problem.path === '' ? '(top level)' : problem.path;
    const key = problem.path.split('.').pop() ?? '';
    const hidden = problem.message.startsWith('unknown key') || isPatientIdentifierKey(key);
    const found = problem.found === undefined || hidden ? '' : ` (found ${problem.found})`;
    return `  ${where}: ${problem.message}${found}`;
  });
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return `Invalid config from ${source}, ${count}:\n${lines.join('\n')}`;
}

function editYaml(original: string, change: ConfigChange): string {
  const parsed = parseDocument(original, { uniqueKeys: true });
  if (parsed.errors.length > 0) {
    throw new BvEdgeError(
      'config_invalid',
      `The config file is not valid YAML (${parsed.errors[0]!.message}); fix it on the cart first.`,
    );
  }
  // A file with comments only has no mapping to add keys to.
  const document: Document = parsed.contents === null ? new Document({}) : parsed;
  document.commentBefore = parsed.commentBefore;
  setYamlValues(document, [], change.values);
  for (const key of change.unset) {
    // deleteIn throws when a folder on the path is missing or is not a mapping.
    if (document.hasIn(key.split('.'))) document.deleteIn(key.split('.'));
  }
  return document.toString();
}

/** Sets each leaf of `values`, merging into existing mappings like the config loader does. */
function setYamlValues(document: Document, path: string[], values: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(values)) {
    const keyPath = [...path, key];
    const existing: unknown = document.getIn(keyPath);
    if (isPlainObject(value) && isMap(existing) && sameVariant(existing.toJSON(), value)) {
      setYamlValues(document, keyPath, value);
    } else {
      document.setIn(keyPath, document.createNode(value));
    }
  }
}

function editJson(original: string, change: ConfigChange): string {
  let root: unknown;
  try {
    root = JSON.parse(original);
  } catch (cause) {
    throw new BvEdgeError(
      'config_invalid',
      `The config file is not valid JSON (${(cause as Error).message}); fix it on the cart first.`,
    );
  }
  const merged = mergeValues(isPlainObject(root) ? root : {}, change.values);
  for (const key of change.unset) deletePath(merged, key.split('.'));
  return `${JSON.stringify(merged, null, 2)}\n`;
}

function mergeValues(
  base: Record<string, unknown>,
  values: Record<string, unknown>,
): Record<string, unknown> {
  const merged = { ...base };
  for (const [key, value] of Object.entries(values)) {
    const current = merged[key];
    merged[key] =
      isPlainObject(current) && isPlainObject(value) && sameVariant(current, value)
        ? mergeValues(current, value)
        : value;
  }
  return merged;
}

function deletePath(root: Record<string, unknown>, path: string[]): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    node = isPlainObject(node) ? node[key] : undefined;
  }
  if (isPlainObject(node)) delete node[path[path.length - 1]!];
}

/** An object with another `kind`, such as another capture source, replaces the old one whole. */
function sameVariant(current: unknown, value: Record<string, unknown>): boolean {
  const kind = isPlainObject(current) ? current.kind : undefined;
  return value.kind === undefined || kind === undefined || value.kind === kind;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns the leaf paths whose values differ, with both values, secret-named keys hidden. */
export function diffConfigs(previous: unknown, next: unknown): Omit<ConfigChangeResult, 'config'> {
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  const visit = (a: unknown, b: unknown, path: string[]): void => {
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        visit(a[key], b[key], [...path, key]);
      }
      return;
    }
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    const key = path.join('.');
    before[key] = a;
    after[key] = b;
  };
  visit(previous, next, []);
  return {
    changedKeys: Object.keys(after).sort(),
    before: hideSecrets(before),
    after: hideSecrets(after),
  };
}

/** Hides values whose dotted path ends in a secret-named key. */
function hideSecrets(values: Record<string, unknown>): Record<string, unknown> {
  const hidden: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(values)) {
    const last = path.split('.').pop() ?? '';
    hidden[path] = (redact({ [last]: value }) as Record<string, unknown>)[last];
  }
  return hidden;
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
