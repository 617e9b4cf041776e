import { z } from 'zod';

import type { Config } from '../config/index.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { ConfigChange, ConfigChangeResult } from './config-change.ts';
import { configHash } from './info.ts';
import type { LogRing } from './log-ring.ts';
import { redact } from './redact.ts';
import type { RequestContext, RequestRouter } from './router.ts';
import type { OutboxState } from './telemetry.ts';

/** What the built-in commands read and change; the fleet agent provides it. */
export interface CommandDeps {
  /** The config the daemon runs with, including settings applied since start. */
  config(): Config;
  configFile: string | null;
  /** Applies a config change whole or not at all; see FleetAgent. */
  changeConfig(
    change: ConfigChange,
    context: RequestContext,
  ): Promise<
    ConfigChangeResult & {
      restartRequired: boolean;
    }
  >;
  health(): Promise<unknown>;
  /** Restarts capture and returns its state afterwards; null when this daemon cannot. */
  restartCapture: ((context: RequestContext) => Promise<unknown>) | null;
  models(): unknown;
  outbox(): OutboxState;
  logLines: LogRing | null;
  uptimeS(): number;
}

const NoParams = z.strictObject({});

const KEY_PATH = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

const ConfigGetParams = z.strictObject({
  /** Dotted key path such as "mqtt.url"; left out, the whole config. */
  key: z.string().regex(KEY_PATH, 'expected a dotted key path such as "mqtt.url"').optional(),
});

const ConfigSetParams = z
  .strictObject({
    values: z.record(z.string(), z.unknown()).default({}),
    unset: z.array(z.string().regex(KEY_PATH, 'expected a dotted key path')).default([]),
  })
  .refine((params) => Object.keys(params.values).length > 0 || params.unset.length > 0, {
    message: 'give values to set or keys to unset',
    path: ['values'],
  });

const LogTailParams = z.strictObject({
  /** Lines to return, newest last. */
  lines: z.number().int().min(1).default(100),
});

/**
 * Registers ping, health, config-get, config-set, capture-restart, model-list, outbox-stats and
 * log-tail on `router`.
 */
export function registerBuiltinCommands(router: RequestRouter, deps: CommandDeps): void {
  router.register('ping', () => Promise.resolve({ pong: true, uptimeS: deps.uptimeS() }), NoParams);
  router.register('health', () => deps.health(), NoParams);
  router.register(
    'config-get',
    (params) => Promise.resolve(getConfig(deps, params.key)),
    ConfigGetParams,
  );
  router.register(
    'config-set',
    async (params, context) => {
      const result = await deps.changeConfig(params, context);
      return {
        changedKeys: result.changedKeys,
        before: result.before,
        after: result.after,
        restartRequired: result.restartRequired,
        configHash: configHash(result.config),
      };
    },
    ConfigSetParams,
  );
  router.register(
    'capture-restart',
    (_params, context) => {
      if (!deps.restartCapture) {
        throw new BvEdgeError(
          'capture_restart_unavailable',
          'This daemon cannot restart its capture source (it was started without one it ' +
            'controls); restart the bv-edge service instead.',
        );
      }
      return deps.restartCapture(context);
    },
    NoParams,
  );
  router.register('model-list', () => Promise.resolve(deps.models()), NoParams);
  router.register('outbox-stats', () => Promise.resolve(deps.outbox()), NoParams);
  router.register(
    'log-tail',
    (params) => Promise.resolve(tailLog(deps, params.lines)),
    LogTailParams,
  );
}

function getConfig(deps: CommandDeps, key: string | undefined): unknown {
  const config = redact(deps.config()) as Record<string, unknown>;
  const hash = configHash(deps.config());
  if (key === undefined) return { file: deps.configFile, configHash: hash, config };
  let node: unknown = config;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) {
      throw new BvEdgeError(
        'config_key_not_found',
        `Config key ${JSON.stringify(key)} does not exist; run config-get without a key to list ` +
          'every key.',
        { value: key },
      );
    }
    node = (node as Record<string, unknown>)[part];
  }
  return { file: deps.configFile, configHash: hash, key, value: node ?? null };
}

function tailLog(deps: CommandDeps, lines: number): unknown {
  const max = deps.config().fleet.logTailMaxLines;
  if (lines > max) {
    throw new BvEdgeError(
      'invalid_params',
      `Invalid params for log-tail: params.lines is ${lines}, more than fleet.logTailMaxLines ` +
        `(${max}); ask for fewer lines.`,
      { value: lines },
    );
  }
  if (!deps.logLines) {
    throw new BvEdgeError(
      'log_tail_unavailable',
      'This daemon keeps no log lines in memory; read the log on the cart with journalctl -u bv-edge.',
    );
  }
  return { lines: deps.logLines.tail(lines), written: deps.logLines.written };
}
