import { readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';

import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

import { loadConfig, readSecrets } from '../config/index.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import {
  deviceStatus,
  listDevices,
  resolveSite,
  sendRequest,
  watchDevices,
  type DeviceAddress,
  type DeviceRecord,
} from '../fleet/console.ts';
import { checkCommandName } from '../fleet/topics.ts';
import { checkBrokerUrl, redactPassword } from '../mqtt/publisher.ts';
import { UsageError } from './common.ts';

export const FLEET_USAGE = `Usage:
  bv-edge fleet devices [options]
  bv-edge fleet status DEVICE [options]
  bv-edge fleet request DEVICE COMMAND [PARAMS_JSON] [options]
  bv-edge fleet watch [DEVICE] [--count N] [options]

DEVICE is a device name, or SITE/DEVICE when the name exists at several sites.

fleet options:
  --broker URL           MQTT broker (default: mqtt.url of --config, else mqtt://127.0.0.1:1883)
  --config FILE          read the broker, user, password file and TLS files from this config
  --username NAME        broker user name
  --password-file FILE   file whose content is the broker password
  --ca-file FILE         PEM CA of the broker certificate
  --cert-file FILE       PEM client certificate (with --key-file)
  --key-file FILE        PEM client key
  --site SITE            only this site (default: every site)
  --root PREFIX          topic prefix above the sites (default bv-edge/v1)
  --wait-ms N            how long to collect retained messages, ms (default 1500); watch DEVICE
                         warns when no retained status of DEVICE arrived in that time
  --timeout-ms N         how long request waits for the response, ms (default 10000)
  --count N              watch: stop after N messages (default: until Ctrl-C)
  --json                 print JSON instead of text
`;

const OPTIONS = {
  broker: { type: 'string' },
  config: { type: 'string' },
  username: { type: 'string' },
  'password-file': { type: 'string' },
  'ca-file': { type: 'string' },
  'cert-file': { type: 'string' },
  'key-file': { type: 'string' },
  site: { type: 'string' },
  root: { type: 'string' },
  'wait-ms': { type: 'string' },
  'timeout-ms': { type: 'string' },
  count: { type: 'string' },
  json: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parse>['values'];

interface Output {
  write(text: string): unknown;
}

const DEFAULT_ROOT = 'bv-edge/v1';
const DEFAULT_WAIT_MS = 1500;
const DEFAULT_TIMEOUT_MS = 10_000;

/** Where warnings go, and a signal that ends `watch` like Ctrl-C does. */
interface ActionContext {
  err: Output;
  signal?: AbortSignal;
}

/**
 * Runs `bv-edge fleet ACTION`, the engineer's console over the fleet's broker. Exit codes: 0
 * done, 1 a failed request, a timeout or an unreachable broker, 2 an invalid command line.
 */
export async function fleetCommand(
  args: string[],
  logger: Logger,
  out: Output = process.stdout,
  context: ActionContext = { err: process.stderr },
): Promise<number> {
  const [action, ...rest] = args;
  if (action === '--help' || action === 'help') {
    out.write(FLEET_USAGE);
    return 0;
  }
  const { values, positionals } = parse(rest);
  const run = ACTIONS[action ?? ''];
  if (!run) {
    throw new UsageError(
      action === undefined
        ? `Missing fleet action.\n${FLEET_USAGE}`
        : `Unknown fleet action "${action}". Use devices, status, request or watch.`,
    );
  }
  checkPositionals(action!, positionals);
  checkValues(action!, values, positionals);
  const client = await connectClient(values, logger);
  try {
    return await run(client, values, positionals, out, context);
  } finally {
    await client.endAsync();
  }
}

type Action = (
  client: MqttClient,
  values: Values,
  positionals: string[],
  out: Output,
  context: ActionContext,
) => Promise<number>;

const ACTIONS: Record<string, Action> = {
  devices: devicesAction,
  status: statusAction,
  request: requestAction,
  watch: watchAction,
};

/** Positional arguments each action takes: [minimum, maximum]. */
const POSITIONALS: Record<string, [number, number]> = {
  devices: [0, 0],
  status: [1, 1],
  request: [2, 3],
  watch: [0, 1],
};

function parse(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (cause) {
    throw new UsageError(`${(cause as Error).message}. Run bv-edge fleet for the options.`);
  }
}

function checkPositionals(action: string, positionals: string[]): void {
  const [min, max] = POSITIONALS[action]!;
  if (positionals.length < min || positionals.length > max) {
    throw new UsageError(
      `fleet ${action} takes ${min === max ? min : `${min} to ${max}`} arguments, got ` +
        `${positionals.length}.\n${FLEET_USAGE}`,
    );
  }
}

/** Checks every option and argument before connecting, so that typos fail fast with code 2. */
function checkValues(action: string, values: Values, positionals: string[]): void {
  root(values);
  waitMs(values);
  positiveInteger(values['timeout-ms'], '--timeout-ms', DEFAULT_TIMEOUT_MS);
  positiveInteger(values.count, '--count', 1);
  const site = values.site === undefined ? null : checkLevel('site', values.site);
  if (action !== 'devices' && positionals[0] !== undefined) splitDevice(positionals[0], site);
  if (action === 'request') {
    try {
      checkCommandName(positionals[1]!);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (positionals[2] !== undefined) parseParams(positionals[2]);
  }
}

async function devicesAction(client: MqttClient, values: Values, _: string[], out: Output) {
  const site = values.site === undefined ? null : checkLevel('site', values.site);
  const devices = await listDevices(client, root(values), site, waitMs(values));
  if (values.json) {
    out.write(`${JSON.stringify(devices, null, 2)}\n`);
  } else if (devices.length === 0) {
    out.write(`No devices under ${root(values)}/${site ?? '+'}/.\n`);
  } else {
    out.write(`${devices.map(describeDevice).join('\n')}\n`);
  }
  return 0;
}

async function statusAction(client: MqttClient, values: Values, args: string[], out: Output) {
  const address = await resolveAddress(client, values, args[0]!);
  const status = await deviceStatus(client, root(values), address, waitMs(values));
  if (status.status === null && status.info === null) {
    throw new BvEdgeError(
      'device_not_found',
      `No retained status or info from ${address.site}/${address.device}; check the name with ` +
        'bv-edge fleet devices.',
    );
  }
  out.write(`${JSON.stringify(status, null, 2)}\n`);
  return 0;
}

async function requestAction(client: MqttClient, values: Values, args: string[], out: Output) {
  const [device, command, json] = args as [string, string, string | undefined];
  const params = json === undefined ? undefined : parseParams(json);
  const address = await resolveAddress(client, values, device);
  const response = await sendRequest(client, root(values), address, {
    command,
    params,
    client: `${userInfo().username}@${hostname()}`,
    timeoutMs: positiveInteger(values['timeout-ms'], '--timeout-ms', DEFAULT_TIMEOUT_MS),
  });
  out.write(`${JSON.stringify(response, null, 2)}\n`);
  return response.status === 'ok' ? 0 : 1;
}

async function watchAction(
  client: MqttClient,
  values: Values,
  args: string[],
  out: Output,
  context: ActionContext,
) {
  const count = values.count === undefined ? null : positiveInteger(values.count, '--count', 1);
  let site = values.site === undefined ? null : checkLevel('site', values.site);
  let device: string | null = null;
  if (args[0] !== undefined) {
    const address = splitDevice(args[0], site);
    device = address.device;
    site = address.site === '' ? null : address.site;
  }
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  context.signal?.addEventListener('abort', onSignal, { once: true });
  let seen = 0;
  let statusSeen = false;
  let retainedTimer: NodeJS.Timeout | undefined;
  // A device that never published has no retained status, which also happens for a typo in
  // its name, so say so once the broker has had time to send retained messages.
  const warnIfUnknown = (): void => {
    if (device === null || statusSeen || stop.signal.aborted) return;
    const name = `${site ?? '+'}/${device}`;
    context.err.write(
      `bv-edge: warning: no retained status for device ${name} after ${waitMs(values)} ms; ` +
        'check the name with bv-edge fleet devices. Still watching.\n',
    );
  };
  try {
    await watchDevices(
      client,
      root(values),
      { site, device },
      (message) => {
        if (stop.signal.aborted) return;
        if (message.kind === 'status') statusSeen = true;
        out.write(`${values.json ? JSON.stringify(message) : describeMessage(message)}\n`);
        seen += 1;
        if (count !== null && seen >= count) stop.abort();
      },
      stop.signal,
      () => (retainedTimer = setTimeout(warnIfUnknown, waitMs(values))),
    );
  } finally {
    clearTimeout(retainedTimer);
    process.off('SIGINT', onSignal);
    context.signal?.removeEventListener('abort', onSignal);
  }
  return 0;
}

/** Reads DEVICE or SITE/DEVICE; the site is '' when neither it nor --site is given. */
function splitDevice(value: string, site: string | null): DeviceAddress {
  const parts = value.split('/');
  if (parts.length === 2) {
    return { site: checkLevel('site', parts[0]!), device: checkLevel('device', parts[1]!) };
  }
  return { site: site ?? '', device: checkLevel('device', value) };
}

async function resolveAddress(
  client: MqttClient,
  values: Values,
  value: string,
): Promise<DeviceAddress> {
  const site = values.site === undefined ? null : checkLevel('site', values.site);
  const address = splitDevice(value, site);
  if (address.site !== '') return address;
  return {
    device: address.device,
    site: await resolveSite(client, root(values), address.device, waitMs(values)),
  };
}

/** Checks a site or device name given on the command line. */
function checkLevel(what: string, value: string): string {
  if (/^[^/+#]+$/.test(value)) return value;
  throw new UsageError(
    `Invalid ${what} ${JSON.stringify(value)}: it must be one topic level, without "/", "+" or "#".`,
  );
}

function parseParams(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch (cause) {
    throw new UsageError(
      `PARAMS_JSON is not valid JSON (${(cause as Error).message}); quote it, e.g. '{"lines": 50}'.`,
    );
  }
}

function describeDevice(record: DeviceRecord): string {
  const status = record.status as { state?: string; at?: string } | null;
  const info = record.info as {
    daemonVersion?: string;
    model?: { name: string; version: string } | null;
    configHash?: string;
  } | null;
  const model = info?.model ? `${info.model.name}@${info.model.version}` : '-';
  return [
    `${record.site}/${record.device}`,
    status?.state ?? 'unknown',
    info?.daemonVersion ? `bv-edge ${info.daemonVersion}` : '-',
    `model ${model}`,
    `config ${info?.configHash?.slice(0, 12) ?? '-'}`,
    `since ${status?.at ?? '-'}`,
  ].join('  ');
}

function describeMessage(message: {
  site: string;
  device: string;
  kind: string;
  payload: unknown;
}) {
  const at = (message.payload as { at?: unknown } | null)?.at;
  const time = typeof at === 'string' ? at : new Date().toISOString();
  return `${time}  ${message.site}/${message.device}  ${message.kind}  ${JSON.stringify(message.payload)}`;
}

function root(values: Values): string {
  const value = values.root ?? DEFAULT_ROOT;
  if (value === '' || value.endsWith('/') || /[+#]/.test(value)) {
    throw new UsageError(
      `Invalid --root ${JSON.stringify(value)}: give topic levels without a trailing "/" or ` +
        'wildcards, e.g. bv-edge/v1.',
    );
  }
  return value;
}

function waitMs(values: Values): number {
  return positiveInteger(values['wait-ms'], '--wait-ms', DEFAULT_WAIT_MS);
}

function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new UsageError(`Invalid ${name} ${JSON.stringify(value)}: expected a positive integer.`);
  }
  return number;
}

/** Builds the mqtt.js options from --config and the flags, which win over the config. */
async function clientOptions(
  values: Values,
  logger: Logger,
): Promise<{ url: string; options: IClientOptions }> {
  const config = values.config === undefined ? null : loadConfig({}, { file: values.config });
  const secrets = config ? await readSecrets(config, logger.child({ subsystem: 'config' })) : null;
  const url = values.broker ?? config?.mqtt.url ?? 'mqtt://127.0.0.1:1883';
  try {
    checkBrokerUrl(url);
  } catch (cause) {
    throw new UsageError(`Invalid --broker: ${(cause as Error).message}`);
  }
  const passwordFile = values['password-file'];
  const password =
    passwordFile === undefined
      ? secrets?.mqttPassword?.reveal()
      : await readFlagFile(passwordFile, '--password-file');
  const username = values.username ?? config?.mqtt.username;
  const ca =
    (await optionalFile(values['ca-file'], '--ca-file')) ?? secrets?.mqttTls.ca ?? undefined;
  const cert =
    (await optionalFile(values['cert-file'], '--cert-file')) ?? secrets?.mqttTls.cert ?? undefined;
  const key =
    (await optionalFile(values['key-file'], '--key-file')) ?? secrets?.mqttTls.key?.reveal();
  return {
    url,
    options: {
      clientId: `bv-edge-fleet-${Math.random().toString(16).slice(2, 10)}`,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...(username !== undefined && { username }),
      ...(password !== undefined && { password }),
      ...(ca !== undefined && { ca }),
      ...(cert !== undefined && { cert }),
      ...(key !== undefined && { key }),
      rejectUnauthorized: config?.mqtt.tls.rejectUnauthorized ?? true,
    },
  };
}

async function connectClient(values: Values, logger: Logger): Promise<MqttClient> {
  const { url, options } = await clientOptions(values, logger);
  try {
    return await connectAsync(url, options);
  } catch (cause) {
    throw new BvEdgeError(
      'broker_unreachable',
      `Cannot connect to the MQTT broker ${redactPassword(url)}: ${(cause as Error).message}. ` +
        'Check --broker and the credentials.',
      { cause },
    );
  }
}

async function optionalFile(path: string | undefined, flag: string): Promise<string | undefined> {
  return path === undefined ? undefined : readFlagFile(path, flag);
}

async function readFlagFile(path: string, flag: string): Promise<string> {
  try {
    // A trailing newline ends the file, as editors and echo write it; it is not part of the value.
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (cause) {
    throw new UsageError(`Cannot read ${flag} ${path}: ${(cause as Error).message}.`);
  }
}
