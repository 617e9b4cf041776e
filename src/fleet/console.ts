import { randomUUID } from 'node:crypto';

import type { MqttClient } from 'mqtt';

import { BvEdgeError } from '../core/errors.ts';
import { FLEET_TOPICS, requestTopic, responseTopic } from './topics.ts';

// The engineer's side of the fleet protocol, over a plain mqtt.js client. It assumes the default
// topic layout <root>/<site>/<device>/ under one root such as "bv-edge/v1".

export interface DeviceAddress {
  site: string;
  device: string;
}

export interface DeviceRecord extends DeviceAddress {
  /** Retained status payload; null when none was received. */
  status: unknown;
  /** Retained info payload; null when none was received. */
  info: unknown;
}

/** One message seen by `watch`. */
export interface WatchedMessage extends DeviceAddress {
  /** Topic below the device base, e.g. "telemetry" or "events". */
  kind: string;
  topic: string;
  payload: unknown;
}

/** Returns the topic base of a device, e.g. "bv-edge/v1/site-a/cart-1/". */
export function deviceBase(root: string, address: DeviceAddress): string {
  return `${root}/${address.site}/${address.device}/`;
}

/**
 * Reads `<root>/<site>/<device>/<rest>` into its parts, or null for a topic of another shape.
 */
export function parseDeviceTopic(
  root: string,
  topic: string,
): (DeviceAddress & { rest: string }) | null {
  if (!topic.startsWith(`${root}/`)) return null;
  const [site, device, ...rest] = topic.slice(root.length + 1).split('/');
  if (site === undefined || device === undefined || rest.length === 0) return null;
  return { site, device, rest: rest.join('/') };
}

/**
 * Collects the retained status and info of every device under `root` (of `site`, or of every
 * site when null) for `waitMs`, the time the broker takes to send retained messages.
 */
export async function listDevices(
  client: MqttClient,
  root: string,
  site: string | null,
  waitMs: number,
): Promise<DeviceRecord[]> {
  const devices = new Map<string, DeviceRecord>();
  const filters = ['status', 'info'].map((name) => `${root}/${site ?? '+'}/+/${name}`);
  await collect(client, filters, waitMs, (topic, payload) => {
    const parsed = parseDeviceTopic(root, topic);
    if (!parsed || (parsed.rest !== 'status' && parsed.rest !== 'info')) return;
    const key = `${parsed.site}/${parsed.device}`;
    const record = devices.get(key) ?? {
      site: parsed.site,
      device: parsed.device,
      status: null,
      info: null,
    };
    record[parsed.rest] = parseJson(payload);
    devices.set(key, record);
  });
  return [...devices.values()].sort((a, b) =>
    `${a.site}/${a.device}`.localeCompare(`${b.site}/${b.device}`),
  );
}

/**
 * Finds the site of `device` from the retained statuses when the command line gave none.
 * Throws when no site or more than one has that device.
 */
export async function resolveSite(
  client: MqttClient,
  root: string,
  device: string,
  waitMs: number,
): Promise<string> {
  const sites = new Set<string>();
  await collect(client, [`${root}/+/${device}/status`], waitMs, (topic) => {
    const parsed = parseDeviceTopic(root, topic);
    if (parsed) sites.add(parsed.site);
  });
  if (sites.size === 1) return [...sites][0]!;
  throw new BvEdgeError(
    'device_not_found',
    sites.size === 0
      ? `No device ${JSON.stringify(device)} has a retained status under ${root}/; check the ` +
          'name with bv-edge fleet devices, or give --site.'
      : `Device ${JSON.stringify(device)} exists at several sites (${[...sites].join(', ')}); ` +
          'give --site or SITE/DEVICE.',
    { value: device },
  );
}

/** Returns the retained status, info and latest telemetry of one device. */
export async function deviceStatus(
  client: MqttClient,
  root: string,
  address: DeviceAddress,
  waitMs: number,
): Promise<Record<string, unknown>> {
  const base = deviceBase(root, address);
  const names = [FLEET_TOPICS.status, FLEET_TOPICS.info, FLEET_TOPICS.telemetryLatest];
  const found: Record<string, unknown> = { status: null, info: null, telemetry: null };
  await collect(
    client,
    names.map((name) => base + name),
    waitMs,
    (topic, payload) => {
      const name = topic.slice(base.length);
      found[name === FLEET_TOPICS.telemetryLatest ? 'telemetry' : name] = parseJson(payload);
    },
  );
  return { ...address, ...found };
}

/**
 * Sends `command` with `params` to a device and resolves with its response, or throws
 * request_timeout after `timeoutMs`.
 */
export async function sendRequest(
  client: MqttClient,
  root: string,
  address: DeviceAddress,
  request: { command: string; params?: unknown; client: string; timeoutMs: number },
): Promise<{ transactionId: string; status: string; data: unknown; error: unknown }> {
  const base = deviceBase(root, address);
  const transactionId = randomUUID();
  const replyTopic = responseTopic(base, request.command);
  let onMessage: ((topic: string, payload: Buffer) => void) | undefined;
  const answer = new Promise<{
    transactionId: string;
    status: string;
    data: unknown;
    error: unknown;
  }>((resolve) => {
    onMessage = (topic, payload) => {
      if (topic !== replyTopic) return;
      const response = parseJson(payload) as { transactionId?: unknown } | null;
      if (response?.transactionId === transactionId) resolve(response as never);
    };
    client.on('message', onMessage);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await client.subscribeAsync(replyTopic, { qos: 1 });
    const body = {
      transactionId,
      client: request.client,
      ...(request.params !== undefined && { params: request.params }),
    };
    await client.publishAsync(requestTopic(base, request.command), JSON.stringify(body), {
      qos: 1,
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new BvEdgeError(
            'request_timeout',
            `No response from ${address.site}/${address.device} to ${request.command} within ` +
              `${request.timeoutMs} ms; check that the device is online with bv-edge fleet devices.`,
          ),
        );
      }, request.timeoutMs);
    });
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
    if (onMessage) client.off('message', onMessage);
  }
}

/**
 * Streams status, telemetry and events of the devices under `root` to `onMessage` until
 * `signal` aborts. `onSubscribed` runs once the broker has acknowledged the subscription.
 */
export async function watchDevices(
  client: MqttClient,
  root: string,
  filter: { site: string | null; device: string | null },
  onMessage: (message: WatchedMessage) => void,
  signal: AbortSignal,
  onSubscribed?: () => void,
): Promise<void> {
  const prefix = `${root}/${filter.site ?? '+'}/${filter.device ?? '+'}/`;
  const names = [FLEET_TOPICS.status, FLEET_TOPICS.telemetry, FLEET_TOPICS.events];
  const listener = (topic: string, payload: Buffer): void => {
    const parsed = parseDeviceTopic(root, topic);
    if (!parsed || !(names as string[]).includes(parsed.rest)) return;
    onMessage({
      site: parsed.site,
      device: parsed.device,
      kind: parsed.rest,
      topic,
      payload: parseJson(payload),
    });
  };
  client.on('message', listener);
  try {
    await client.subscribeAsync(
      names.map((name) => prefix + name),
      { qos: 1 },
    );
    onSubscribed?.();
    if (!signal.aborted) {
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    }
  } finally {
    client.off('message', listener);
  }
}

/** Subscribes to `filters`, passes every message to `onMessage` for `waitMs`, then unsubscribes. */
async function collect(
  client: MqttClient,
  filters: string[],
  waitMs: number,
  onMessage: (topic: string, payload: Buffer) => void,
): Promise<void> {
  client.on('message', onMessage);
  try {
    await client.subscribeAsync(filters, { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    await client.unsubscribeAsync(filters);
  } finally {
    client.off('message', onMessage);
  }
}

/** Parses a payload as JSON; text that is not JSON is returned as a string. */
function parseJson(payload: Buffer): unknown {
  const text = payload.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
