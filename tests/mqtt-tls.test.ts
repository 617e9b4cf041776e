import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';

import { ConfigSchema, type ConfigInput } from '../src/config/schema.ts';
import { readSecrets } from '../src/config/secrets.ts';
import { BvEdgeError } from '../src/core/errors.ts';
import { silentLogger, type Logger } from '../src/core/log.ts';
import { publisherOptionsFromConfig } from '../src/mqtt/connection-config.ts';
import { OutboxPublisher } from '../src/mqtt/publisher.ts';
import { openDatabase, type Store } from '../src/store/db.ts';
import { enqueue } from '../src/store/outbox.ts';
import {
  freePort,
  mosquittoSkipReason,
  startMosquitto,
  type Mosquitto,
} from './helpers/mosquitto.ts';

const run = promisify(execFile);
const SHIPPED = join(import.meta.dirname, '../deploy/mosquitto');
const SITE = 'test-site';
const PASSWORDS: Record<string, string> = {
  'cart-1': 'cart-1-pass',
  'cart-2': 'cart-2-pass',
  'bv-edge-server': 'server-pass',
  'bv-edge-fleet': 'fleet-pass',
};
const logger = silentLogger();

let dir = '';
let broker: Mosquitto;

/** Creates a key and a certificate signed by the test CA, for a broker or a client. */
async function issueCertificate(name: string, extensions: string): Promise<void> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, `${extensions}\n`);
  await run('openssl', ['genrsa', '-out', key, '2048']);
  await run('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    join(dir, 'ca.pem'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    join(dir, `${name}.pem`),
  ]);
}

async function createPki(): Promise<void> {
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'ca.key'),
    '-subj',
    '/CN=bv-edge test CA',
    '-days',
    '2',
    '-out',
    join(dir, 'ca.pem'),
  ]);
  await issueCertificate('broker', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth');
  for (const user of Object.keys(PASSWORDS)) {
    await issueCertificate(user, 'extendedKeyUsage=clientAuth');
  }
  const passwd = join(dir, 'passwd');
  await writeFile(passwd, '');
  for (const [user, password] of Object.entries(PASSWORDS)) {
    await run('mosquitto_passwd', ['-b', passwd, user, password]);
  }
  for (const [user, password] of Object.entries(PASSWORDS)) {
    await writeFile(join(dir, `${user}.password`), `${password}\n`, { mode: 0o600 });
  }
}

/**
 * Returns the shipped broker config with the test's files, a loopback port and no persistence.
 * The shipped ACL file is loaded as it is.
 */
async function brokerConfig(port: number): Promise<string[]> {
  const replacements: Record<string, string> = {
    listener: `listener ${port} 127.0.0.1`,
    password_file: `password_file ${join(dir, 'passwd')}`,
    acl_file: `acl_file ${join(SHIPPED, 'acl')}`,
    cafile: `cafile ${join(dir, 'ca.pem')}`,
    certfile: `certfile ${join(dir, 'broker.pem')}`,
    keyfile: `keyfile ${join(dir, 'broker.key')}`,
    persistence: 'persistence false',
    persistence_location: '',
    autosave_interval: '',
  };
  const shipped = await readFile(join(SHIPPED, 'mosquitto.conf'), 'utf8');
  return shipped.split('\n').map((line) => {
    const key = line.split(' ')[0] ?? '';
    return line.startsWith('#') ? line : (replacements[key] ?? line);
  });
}

function cartConfig(device: string, overrides: Partial<ConfigInput['mqtt']> = {}) {
  return ConfigSchema.parse({
    mqtt: {
      url: broker.url,
      site: SITE,
      device,
      username: device,
      passwordFile: join(dir, `${device}.password`),
      tls: {
        caFile: join(dir, 'ca.pem'),
        certFile: join(dir, `${device}.pem`),
        keyFile: join(dir, `${device}.key`),
      },
      ...overrides,
    },
  });
}

async function cartPublisher(device: string, store: Store, log: Logger = logger) {
  const config = cartConfig(device);
  const secrets = await readSecrets(config, log);
  return new OutboxPublisher({
    ...publisherOptionsFromConfig(config, secrets, store, log),
    reconnectPeriodMs: 100,
    pollIntervalMs: 200,
  });
}

/** Connects as `user` with its client certificate and password. */
async function connectAs(user: string): Promise<MqttClient> {
  return connectAsync(broker.url, {
    protocolVersion: 5,
    clientId: `${user}-${randomUUID().slice(0, 8)}`,
    username: user,
    password: PASSWORDS[user],
    ca: await readFile(join(dir, 'ca.pem')),
    cert: await readFile(join(dir, `${user}.pem`)),
    key: await readFile(join(dir, `${user}.key`)),
    reconnectPeriod: 0,
  });
}

function collect(client: MqttClient): { topic: string; payload: string }[] {
  const messages: { topic: string; payload: string }[] = [];
  client.on('message', (topic, payload) => messages.push({ topic, payload: payload.toString() }));
  return messages;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(20);
  }
}

describe('TLS broker with shipped ACL', { skip: mosquittoSkipReason }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bv-edge-mqtt-tls-'));
    await createPki();
    const port = await freePort();
    broker = await startMosquitto(port, { config: await brokerConfig(port), scheme: 'mqtts' });
  });

  after(async () => {
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('cart delivers over TLS', async () => {
    const store = openDatabase(join(dir, randomUUID(), 'bv-edge.sqlite'), logger);
    const server = await connectAs('bv-edge-server');
    const received = collect(server);
    await server.subscribeAsync('bv-edge/v1/#', { qos: 1 });
    const lines: string[] = [];
    const capture = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const publisher = await cartPublisher('cart-1', store, capture);
    try {
      enqueue(store.db, {
        topic: `bv-edge/v1/${SITE}/cart-1/estimates`,
        payload: { estimateId: 'e-1' },
      });
      const result = await publisher.drain({ timeoutMs: 10_000 });
      assert.deepEqual(result, { sent: 1, pending: 0, connected: true });
      assert.equal(publisher.protocolVersion, 5);
      await waitFor(() => received.length === 1, 'the estimate arrived');
      assert.equal(received[0]?.topic, `bv-edge/v1/${SITE}/cart-1/estimates`);
      assert.match(received[0]?.payload ?? '', /"estimateId":"e-1"/);
      assert.ok(lines.length > 0, 'publisher logged nothing');
      for (const line of lines) assert.ok(!line.includes(PASSWORDS['cart-1']!), line);
    } finally {
      await publisher.stop();
      await server.endAsync(true);
      store.close();
    }
  });

  test('ACL rejects another subtree', async () => {
    const store = openDatabase(join(dir, randomUUID(), 'bv-edge.sqlite'), logger);
    const server = await connectAs('bv-edge-server');
    const received = collect(server);
    await server.subscribeAsync('bv-edge/v1/#', { qos: 1 });
    const publisher = await cartPublisher('cart-1', store);
    try {
      await publisher.start();
      assert.equal(publisher.connected, true);
      await assert.rejects(
        publisher.publishNow(`bv-edge/v1/${SITE}/cart-2/estimates`, { forged: true }),
        (error: unknown) => {
          assert.equal((error as { code?: unknown }).code, 135, 'PUBACK reason: not authorized');
          return true;
        },
      );
      await publisher.publishNow(`bv-edge/v1/${SITE}/cart-1/status`, { state: 'online' });
      await waitFor(() => received.length >= 1, 'the own-subtree message arrived');
      await delay(200);
      assert.deepEqual(
        received.map((m) => m.topic),
        [`bv-edge/v1/${SITE}/cart-1/status`],
        'the forged message never arrived',
      );
    } finally {
      await publisher.stop();
      await server.endAsync(true);
      store.close();
    }
  });

  test('cart reads only its own requests', async () => {
    const store = openDatabase(join(dir, randomUUID(), 'bv-edge.sqlite'), logger);
    const fleet = await connectAs('bv-edge-fleet');
    const publisher = await cartPublisher('cart-1', store);
    const requests: string[] = [];
    publisher.subscribe(`bv-edge/v1/${SITE}/+/request/+`, (topic) => requests.push(topic));
    try {
      await publisher.start();
      await delay(200);
      await fleet.publishAsync(`bv-edge/v1/${SITE}/cart-2/request/ping`, '{}', { qos: 1 });
      await fleet.publishAsync(`bv-edge/v1/${SITE}/cart-1/request/ping`, '{}', { qos: 1 });
      await waitFor(() => requests.length >= 1, 'the own request arrived');
      await delay(200);
      assert.deepEqual(requests, [`bv-edge/v1/${SITE}/cart-1/request/ping`]);
    } finally {
      await publisher.stop();
      await fleet.endAsync(true);
      store.close();
    }
  });

  test('server consumes shared subscription', async () => {
    const store = openDatabase(join(dir, randomUUID(), 'bv-edge.sqlite'), logger);
    const consumer = await connectAs('bv-edge-server');
    const received = collect(consumer);
    await consumer.subscribeAsync('$share/training/bv-edge/v1/+/+/training', { qos: 1 });
    const publisher = await cartPublisher('cart-1', store);
    try {
      enqueue(store.db, {
        topic: `bv-edge/v1/${SITE}/cart-1/training`,
        kind: 'training',
        payload: { recordId: 'r-1' },
      });
      assert.equal((await publisher.drain({ timeoutMs: 10_000 })).pending, 0);
      await waitFor(() => received.length === 1, 'the training record arrived');
      assert.equal(received[0]?.topic, `bv-edge/v1/${SITE}/cart-1/training`);
      assert.match(received[0]?.payload ?? '', /"recordId":"r-1"/);
    } finally {
      await publisher.stop();
      await consumer.endAsync(true);
      store.close();
    }
  });

  test('wrong password is refused', async () => {
    const store = openDatabase(join(dir, randomUUID(), 'bv-edge.sqlite'), logger);
    await writeFile(join(dir, 'wrong.password'), 'not-the-password\n', { mode: 0o600 });
    const config = cartConfig('cart-1', { passwordFile: join(dir, 'wrong.password') });
    const secrets = await readSecrets(config, logger);
    const publisher = new OutboxPublisher({
      ...publisherOptionsFromConfig(config, secrets, store, logger),
      connectTimeoutMs: 1000,
    });
    try {
      await publisher.start();
      assert.equal(publisher.connected, false);
    } finally {
      await publisher.stop();
      store.close();
    }
  });

  test('missing CA file names key and fix', async () => {
    const config = cartConfig('cart-1', {
      tls: { caFile: join(dir, 'missing-ca.pem') },
    });
    await assert.rejects(readSecrets(config, logger), (error: unknown) => {
      assert.ok(error instanceof BvEdgeError, 'a BvEdgeError');
      assert.match(error.message, /mqtt\.tls\.caFile .*missing-ca\.pem: not found/);
      assert.match(error.message, /Put the PEM certificate at that path/);
      return true;
    });
  });
});
