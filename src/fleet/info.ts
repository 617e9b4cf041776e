import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { Config } from '../config/index.ts';
import { isSecretKey } from './redact.ts';
import type { BundlesSummary, InfoPayload, ModelSummary } from './payloads.ts';

/** The bv-edge version from package.json, read once. */
export const DAEMON_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** Model bundle fields that `info` reports; InferenceEngine has these members. */
export interface ModelSource {
  readonly manifest: { name: string; version: string; intendedUse: string };
  readonly providers: Readonly<Record<string, string>>;
}

export function summarizeModel(engine: ModelSource | null): ModelSummary | null {
  if (!engine) return null;
  const { name, version, intendedUse } = engine.manifest;
  return { name, version, intendedUse, providers: { ...engine.providers } };
}

/**
 * Returns the SHA-256, hex, of the config as canonical JSON (keys sorted) without the keys that
 * name secrets. Two devices with the same effective settings get the same hash. The config
 * names only the files that hold passwords and keys, so those paths are part of the hash.
 */
export function configHash(config: Config): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  const entries = Object.entries(value)
    .filter(([key, inner]) => !isSecretKey(key) && inner !== undefined)
    // Object keys are unique, so two entries never compare equal.
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
}

export function buildInfo(options: {
  config: Config;
  engine: ModelSource | null;
  bundles?: BundlesSummary | null;
  startedAt: Date;
  now: Date;
}): InfoPayload {
  const { config } = options;
  return {
    at: options.now.toISOString(),
    site: config.mqtt.site,
    device: config.mqtt.device,
    daemonVersion: DAEMON_VERSION,
    nodeVersion: process.version,
    startedAt: options.startedAt.toISOString(),
    model: summarizeModel(options.engine),
    bundles: options.bundles ?? null,
    configHash: configHash(config),
  };
}
