// `bv-edge model pack|sign|keygen|install|list|activate|rollback`: signed bundle archives for
// the ML team, and the bundle store of this device for the engineer.
import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { loadConfig, type Config } from '../config/index.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import {
  generateSigningKey,
  keyIdOf,
  listInstalls,
  ModelManager,
  packBundle,
  parsePrivateKey,
  publicKeyBase64,
  signArchive,
} from '../ota/index.ts';
import { openDatabase, type Store } from '../store/index.ts';
import { UsageError } from './common.ts';

export const BUNDLE_USAGE = `  bv-edge model pack DIR --out FILE [--key KEY]
  bv-edge model sign FILE --key KEY [--out FILE]
  bv-edge model keygen --out PREFIX
  bv-edge model install FILE [--activate] [--config FILE]
  bv-edge model list [--json] [--config FILE]
  bv-edge model activate VERSION [--config FILE]
  bv-edge model rollback [--config FILE]`;

type Options = Record<string, { type: 'string' | 'boolean' }>;

function parse(
  subcommand: string,
  args: string[],
  options: Options,
  positionals: number,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (cause) {
    throw new UsageError(`${(cause as Error).message}. Usage:\n${BUNDLE_USAGE}`);
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(
      `bv-edge model ${subcommand} takes ${positionals} argument${positionals === 1 ? '' : 's'}, ` +
        `got ${parsed.positionals.length}. Usage:\n${BUNDLE_USAGE}`,
    );
  }
  return parsed;
}

function requireOption(values: Record<string, unknown>, name: string, subcommand: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') {
    throw new UsageError(`bv-edge model ${subcommand} needs --${name}. Usage:\n${BUNDLE_USAGE}`);
  }
  return value;
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new BvEdgeError(
      'file_unreadable',
      `Cannot read ${what} ${path}: ${(cause as Error).message}.`,
      { value: path, cause },
    );
  }
}

/** Writes an output file; a failure (missing folder, no permission) names the path and the fix. */
async function writeOutput(
  path: string,
  data: string | Uint8Array,
  what: string,
  options: { mode?: number; flag?: string } = {},
): Promise<void> {
  try {
    await writeFile(path, data, options);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    const fix =
      code === 'ENOENT'
        ? `the folder ${dirname(path)} does not exist; create it or choose another path`
        : 'choose a path in a folder you can write to';
    throw new BvEdgeError('file_unwritable', `Cannot write ${what} ${path} (${code}): ${fix}.`, {
      value: path,
      cause,
    });
  }
}

async function readPrivateKey(path: string) {
  return parsePrivateKey((await readInput(path, 'private key')).toString('utf8'), path);
}

async function pack(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    'pack',
    args,
    { out: { type: 'string' }, key: { type: 'string' } },
    1,
  );
  const out = resolve(requireOption(values, 'out', 'pack'));
  const key = typeof values.key === 'string' ? await readPrivateKey(values.key) : undefined;
  const archive = await packBundle(resolve(positionals[0]!), key);
  await writeOutput(out, archive, 'bundle archive');
  const signed = key ? 'signed' : 'unsigned (sign it with bv-edge model sign before shipping)';
  process.stdout.write(`${out}: ${archive.length} bytes, ${signed}\n`);
  return 0;
}

async function sign(args: string[], config: () => Config): Promise<number> {
  const { values, positionals } = parse(
    'sign',
    args,
    { out: { type: 'string' }, key: { type: 'string' } },
    1,
  );
  const input = resolve(positionals[0]!);
  const key = await readPrivateKey(requireOption(values, 'key', 'sign'));
  const archive = await readInput(input, 'bundle archive');
  const signed = signArchive(archive, key, config().models.maxBundleMb * 2 ** 20);
  const out = typeof values.out === 'string' ? resolve(values.out) : input;
  await writeOutput(out, signed, 'bundle archive');
  process.stdout.write(`${out}: signed with key ${keyIdOf(createPublicKey(key))}\n`);
  return 0;
}

async function keygen(args: string[]): Promise<number> {
  const { values } = parse('keygen', args, { out: { type: 'string' } }, 0);
  const prefix = resolve(requireOption(values, 'out', 'keygen'));
  const privatePath = `${prefix}.key`;
  const publicPath = `${prefix}.pub`;
  for (const path of [privatePath, publicPath]) {
    if (existsSync(path)) {
      throw new BvEdgeError(
        'file_exists',
        `${path} exists already; keygen never overwrites a key. Choose another --out prefix.`,
        { value: path },
      );
    }
  }
  const { privatePem, publicPem, keyId } = generateSigningKey();
  await writeOutput(privatePath, privatePem, 'private key', { mode: 0o600, flag: 'wx' });
  await writeOutput(publicPath, publicPem, 'public key', { mode: 0o644, flag: 'wx' });
  const raw = publicKeyBase64(createPublicKey(publicPem));
  process.stdout.write(
    `key id ${keyId}\nprivate key ${privatePath} (mode 0600; keep it off the carts)\n` +
      `public key ${publicPath}\nfor models.trustedKeys: ${raw}\n`,
  );
  return 0;
}

/** Opens what the device commands need: the config, the store and a manager without a daemon. */
async function openManager(
  configFile: string | undefined,
  logger: Logger,
): Promise<{ manager: ModelManager; store: Store }> {
  const config = loadConfig({}, { file: configFile });
  const store = openDatabase(
    join(config.dataDir, 'bv-edge.sqlite'),
    logger.child({ subsystem: 'store' }),
  );
  try {
    const manager = new ModelManager({
      config,
      store,
      logger: logger.child({ subsystem: 'models' }),
      quietEvents: true,
    });
    await manager.open();
    return { manager, store };
  } catch (error) {
    store.close();
    throw error;
  }
}

async function withManager(
  configFile: string | boolean | undefined,
  logger: Logger,
  action: (manager: ModelManager, store: Store) => Promise<number>,
): Promise<number> {
  const file = typeof configFile === 'string' ? configFile : undefined;
  const { manager, store } = await openManager(file, logger);
  try {
    return await action(manager, store);
  } finally {
    await manager.close();
    store.close();
  }
}

/** Audit actor of a command run at the cart. */
function cliActor(): string {
  return `cli:${userInfo().username}`;
}

const NEXT_START = 'The running daemon switches at its next start.';

async function install(args: string[], logger: Logger): Promise<number> {
  const options = { activate: { type: 'boolean' }, config: { type: 'string' } } as const;
  const { values, positionals } = parse('install', args, options, 1);
  const archive = await readInput(resolve(positionals[0]!), 'bundle archive');
  return withManager(values.config, logger, async (manager) => {
    let activationFailure = 'see the log';
    manager.events.on((type, data) => {
      if (type === 'model-activation-failed') activationFailure = String(data.reason);
    });
    const outcome = await manager.installBytes(archive, 'file', {
      actor: cliActor(),
      activate: values.activate === true,
    });
    const state = outcome.alreadyInstalled ? 'was installed already' : 'installed';
    let line = `${outcome.name} ${outcome.version} ${state} (signed by key ${outcome.keyId})`;
    if (outcome.activation === 'activated') line += `; active. ${NEXT_START}`;
    if (outcome.activation === 'failed') line += `; activation failed: ${activationFailure}`;
    process.stdout.write(`${line}\n`);
    return outcome.activation === 'failed' ? 1 : 0;
  });
}

async function list(args: string[], logger: Logger): Promise<number> {
  const options = { json: { type: 'boolean' }, config: { type: 'string' } } as const;
  const { values } = parse('list', args, options, 0);
  return withManager(values.config, logger, async (manager, store) => {
    const bundles = manager.bundles();
    const installed = await manager.bundleStore.installedVersions();
    const installs = listInstalls(store, 10);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...bundles, installed, installs }, null, 2)}\n`);
      return 0;
    }
    const label = (info: typeof bundles.active): string =>
      info ? `${info.name} ${info.version} (${info.source})` : 'none';
    const lines = [
      `active:   ${label(bundles.active)}${bundles.gate === 'pending' ? ', health gate pending' : ''}`,
      `previous: ${label(bundles.previous)}`,
      `installed: ${installed.join(', ') || 'none'}`,
      'recent installs:',
      ...installs.map(
        (row) =>
          `  ${row.startedAt} ${row.source} ${row.version ?? '?'} ${row.state}` +
          (row.reason ? `: ${row.reason}` : ''),
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  });
}

async function activate(args: string[], logger: Logger): Promise<number> {
  const { values, positionals } = parse('activate', args, { config: { type: 'string' } }, 1);
  return withManager(values.config, logger, async (manager) => {
    const result = await manager.activate(positionals[0]!, cliActor());
    const summary = result.unchanged
      ? 'is active already'
      : `is active; previous ${result.previous}`;
    process.stdout.write(`${result.active} ${summary}. ${result.unchanged ? '' : NEXT_START}\n`);
    return 0;
  });
}

async function rollback(args: string[], logger: Logger): Promise<number> {
  const { values } = parse('rollback', args, { config: { type: 'string' } }, 0);
  return withManager(values.config, logger, async (manager) => {
    const result = await manager.rollback(cliActor(), 'requested at the cart');
    process.stdout.write(
      `rolled back to ${result.active}; previous ${result.previous}. ${NEXT_START}\n`,
    );
    return 0;
  });
}

/** Runs a bundle subcommand; returns null for a name that is not one of them. */
export function bundleCommand(
  subcommand: string,
  args: string[],
  logger: Logger,
): Promise<number> | null {
  switch (subcommand) {
    case 'pack':
      return pack(args);
    case 'sign':
      return sign(args, () => loadConfig());
    case 'keygen':
      return keygen(args);
    case 'install':
      return install(args, logger);
    case 'list':
      return list(args, logger);
    case 'activate':
      return activate(args, logger);
    case 'rollback':
      return rollback(args, logger);
    default:
      return null;
  }
}
