import { readFileSync } from 'node:fs';

import { BvEdgeError } from '../core/errors.ts';
import type { ExecutionProvider } from '../inference/engine.ts';
import type { ModelManifest } from '../inference/manifest.ts';
import { missingProviderReason } from '../inference/providers.ts';
import { satisfies } from './semver.ts';

/** The version in bv-edge's package.json, e.g. "0.1.0". */
export function daemonVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

export interface CompatibilityOptions {
  daemonVersion: string;
  /** The configured execution providers, in order of preference. */
  providers: readonly ExecutionProvider[];
  /** Returns why a provider cannot load here, or null; default: checks its libraries. */
  missingReason?: (provider: ExecutionProvider) => string | null;
}

/**
 * Checks the manifest's `requires` against this device and returns the providers to load the
 * bundle on: the configured ones the bundle allows, in configured order, at least one of them
 * available. Throws BvEdgeError
 * `bundle_incompatible` naming the requirement that fails.
 */
export function checkCompatibility(
  manifest: ModelManifest,
  options: CompatibilityOptions,
): ExecutionProvider[] {
  const { requires } = manifest;
  const label = `Bundle ${manifest.name} ${manifest.version}`;
  if (requires?.daemon && !satisfies(options.daemonVersion, requires.daemon)) {
    throw new BvEdgeError(
      'bundle_incompatible',
      `${label} requires bv-edge ${requires.daemon}, but this device runs ` +
        `${options.daemonVersion}. Update bv-edge or ship a bundle built for it.`,
      { value: { requires: requires.daemon, found: options.daemonVersion } },
    );
  }
  const allowed = requires?.providers;
  const usable = options.providers.filter((provider) => !allowed || allowed.includes(provider));
  const missingReason = options.missingReason ?? missingProviderReason;
  const available = usable.filter((provider) => missingReason(provider) === null);
  if (available.length === 0) {
    const accepted = allowed ? allowed.join(', ') : 'any provider';
    throw new BvEdgeError(
      'bundle_incompatible',
      `${label} runs on ${accepted}, but this device has none of them available among its ` +
        `configured providers (${options.providers.join(', ')}). Install the provider's ` +
        'libraries or ship a bundle that runs on this device.',
      { value: { requires: allowed ?? null, configured: options.providers } },
    );
  }
  // The engine skips the unavailable ones itself and logs why.
  return usable;
}
