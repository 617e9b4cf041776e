import type { ConfigProblem } from './problems.ts';
import { CONFIG_VERSION } from './schema.ts';

/** One step that rewrites a config object of version `from` into version `from + 1`. */
interface Migration {
  from: number;
  /** Summary of the step's change, shown by `bv-edge config check`. */
  summary: string;
  apply(raw: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Version 1 is the file that bv-edge 0.1 read: dataDir, modelDir, providers and mqtt (url, site,
 * device, publishTimeoutMs), with no version key. Version 2 keeps those keys as they were and
 * adds the daemon sections, which all have defaults, so the step only sets the version.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    from: 1,
    summary: 'version 1 to 2: added the version key; the daemon sections take their defaults',
    apply: (raw) => ({ ...raw, version: 2 }),
  },
];

export interface MigrationResult {
  config: Record<string, unknown>;
  /** The version the file was written in. */
  fromVersion: number;
  /** One line per step applied; empty when the file is current. */
  steps: string[];
  problems: ConfigProblem[];
}

/**
 * Brings a config object read from a file to CONFIG_VERSION. A file without `version` is
 * version 1. A version newer than CONFIG_VERSION, or one that is not a positive integer, is a
 * problem, and the object is returned unchanged for the schema to report the rest.
 */
export function migrateConfig(raw: Record<string, unknown>): MigrationResult {
  const found = raw.version ?? 1;
  if (typeof found !== 'number' || !Number.isInteger(found) || found < 1) {
    return unchanged(raw, 1, `expected a positive integer such as ${CONFIG_VERSION}`, found);
  }
  if (found > CONFIG_VERSION) {
    return unchanged(
      raw,
      found,
      `this bv-edge reads config versions up to ${CONFIG_VERSION}; update bv-edge or write ` +
        `the file for version ${CONFIG_VERSION}`,
      found,
    );
  }
  let config = raw;
  const steps: string[] = [];
  for (const migration of MIGRATIONS) {
    if (migration.from < found) continue;
    config = migration.apply(config);
    steps.push(migration.summary);
  }
  return { config, fromVersion: found, steps, problems: [] };
}

function unchanged(
  raw: Record<string, unknown>,
  fromVersion: number,
  message: string,
  value: unknown,
): MigrationResult {
  return {
    config: raw,
    fromVersion,
    steps: [],
    problems: [{ path: 'version', message, value }],
  };
}
