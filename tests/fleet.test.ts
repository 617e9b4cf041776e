import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { connectAsync, type MqttClient } from 'mqtt';
import { z } from 'zod';

import { loadConfig } from '../src/config/index.ts';
import { BvEdgeError } from '../src/core/errors.ts';
import { silentLogger } from '../src/core/log.ts';
import { applyConfigChange } from '../src/fleet/config-change.ts';
import { sendRequest } from '../src/fleet/console.ts';
import {
  configHash,
  EventPayload,
  findPatientIdentifier,
  InfoPayload,
  LatencyRecorder,
  LogRing,
  RequestRouter,
  ResponsePayload,
  StatusPayload,
  TelemetryPayload,
} from '../src/fleet/index.ts';
import { percentile } from '../src/fleet/latency.ts';
import { readTemperatures } from '../src/fleet/sysfs.ts';
import { auditLog } from '../src/store/schema.ts';
import { repoRoot } from './helpers/data.ts';
import {
  configText,
  FLEET_BUNDLES,
  record,
  SITE,
  startAgent,
  type AgentHarness,
} from './helpers/fleet.ts';
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from './helpers/mosquitto.ts';

const logger = silentLogger();
let tempDir = '';

before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'bv-edge-fleet-unit-'));
});

after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

/**
 * Runs a config change on `file` and returns the error's code and message. Permissions bind only
 * an unprivileged user, so under root the change runs in a child process as user nobody, with
 * its temporary files in `dir`.
 */
async function changeAsUnprivileged(
  dir: string,
  file: string,
): Promise<{ code: string; message: string }> {
  const change = { values: { fleet: { telemetryIntervalS: 30 } }, unset: [] };
  if (process.getuid?.() !== 0) {
    const running = loadConfig({}, { file, env: {} });
    try {
      await applyConfigChange(file, change, { env: {}, running });
    } catch (error) {
      return { code: (error as BvEdgeError).code, message: (error as Error).message };
    }
    return { code: 'none', message: 'the change was applied' };
  }
  const script = [
    "import { loadConfig } from './src/config/index.ts';",
    "import { applyConfigChange } from './src/fleet/config-change.ts';",
    `const file = ${JSON.stringify(file)};`,
    'const running = loadConfig({}, { file, env: {} });',
    `applyConfigChange(file, ${JSON.stringify(change)}, { env: {}, running }).then(`,
    "  () => console.log(JSON.stringify({ code: 'none', message: 'the change was applied' })),",
    '  (error) => console.log(JSON.stringify({ code: error.code, message: error.message })),',
    ');',
  ].join('\n');
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '--eval', script],
    {
      cwd: repoRoot,
      uid: 65534,
      gid: 65534,
      env: { PATH: process.env.PATH, TMPDIR: dir, HOME: dir },
      encoding: 'utf8',
    },
  );
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as { code: string; message: string };
}

function newRouter(maxBytes = 65_536): RequestRouter {
  const router = new RequestRouter({ logger, maxRequestBytes: () => maxBytes });
  router.register('ping', () => Promise.resolve({ pong: true }));
  router.register(
    'log-tail',
    (params) => Promise.resolve({ lines: params.lines }),
    z.strictObject({ lines: z.number().int().min(1).default(10) }),
  );
  return router;
}

function request(body: unknown): Buffer {
  return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
}

describe('request router', () => {
  test('answers ping with its transaction id', async () => {
    const outcome = await newRouter().route('ping', request({ transactionId: 't1' }));
    assert.deepEqual(outcome, {
      kind: 'response',
      response: { transactionId: 't1', status: 'ok', data: { pong: true }, error: null },
    });
  });

  test('malformed requests get error responses', async () => {
    const router = newRouter(1024);
    const cases: [string, Buffer, string, string][] = [
      ['bad JSON', request('{"transactionId": "t2", "params": {'), 'invalid_json', 't2'],
      ['unknown command', request({ transactionId: 't3' }), 'unknown_command', 't3'],
      [
        'wrong type',
        request({ transactionId: 't4', params: { lines: 'many' } }),
        'invalid_params',
        't4',
      ],
      [
        'unknown envelope key',
        request({ transactionId: 't5', param: {} }),
        'invalid_request',
        't5',
      ],
      [
        'oversized payload',
        request({ transactionId: 't6', params: { pad: 'x'.repeat(2000) } }),
        'payload_too_large',
        't6',
      ],
    ];
    for (const [name, payload, code, transactionId] of cases) {
      const command = name === 'unknown command' ? 'reboot-now' : 'log-tail';
      const outcome = await router.route(command, payload);
      assert.equal(outcome.kind, 'response', name);
      if (outcome.kind !== 'response') continue;
      assert.equal(outcome.response.status, 'error', name);
      assert.equal(outcome.response.transactionId, transactionId, name);
      assert.equal(outcome.response.error?.code, code, name);
    }
  });

  test('invalid params name the key path', async () => {
    const outcome = await newRouter().route(
      'log-tail',
      request({ transactionId: 't7', params: { lines: 'many', colour: 1 } }),
    );
    assert.equal(outcome.kind, 'response');
    const message = outcome.kind === 'response' ? outcome.response.error!.message : '';
    assert.match(message, /params\.lines: /);
    assert.match(message, /params\.colour: unknown key/);
  });

  test('rejects requests without a transaction id', async () => {
    const router = newRouter();
    for (const payload of [
      request('not json at all'),
      request({ params: {} }),
      request({ transactionId: 42 }),
      request([1, 2]),
    ]) {
      const outcome = await router.route('ping', payload);
      assert.equal(outcome.kind, 'rejected', payload.toString());
    }
    const long = await router.route('ping', request({ transactionId: 'x'.repeat(129) }));
    assert.equal(long.kind, 'rejected');
    assert.equal(long.kind === 'rejected' && long.error.code, 'invalid_transaction_id');
    assert.match(
      long.kind === 'rejected' ? long.error.message : '',
      /transactionId is longer than 128 characters \(129\)/,
    );
  });

  test('handler errors become error responses', async () => {
    const router = newRouter();
    router.register('fail-known', () => {
      throw new BvEdgeError('disk_full', 'The disk is full.');
    });
    router.register('fail-unknown', () => Promise.reject(new Error('boom')));
    router.register('leak', () => Promise.resolve({ patient: { mrn: '123' } }));
    const expected: Record<string, string> = {
      'fail-known': 'disk_full',
      'fail-unknown': 'internal_error',
      leak: 'response_rejected',
    };
    for (const [command, code] of Object.entries(expected)) {
      const outcome = await router.route(command, request({ transactionId: command }));
      assert.equal(outcome.kind, 'response', command);
      if (outcome.kind === 'response') assert.equal(outcome.response.error?.code, code, command);
    }
  });

  test('register rejects duplicates and bad names', () => {
    const router = newRouter();
    assert.throws(() => router.register('ping', () => Promise.resolve(null)), {
      code: 'command_registered',
    });
    assert.throws(() => router.register('Bad_Name', () => Promise.resolve(null)), {
      code: 'invalid_command_name',
    });
    assert.equal(router.unregister('ping'), true);
    router.register('ping', () => Promise.resolve('replaced'));
    assert.deepEqual(router.commands(), ['log-tail', 'ping']);
  });
});

describe('payload schemas', () => {
  test('reject patient identifiers', () => {
    const event = {
      messageId: '0b7d3c8e-6f1a-4f5e-9d3b-2a1c0e9f8b7a',
      type: 'capture-frozen',
      at: '2025-03-14T09:26:53.000Z',
      data: { state: 'frozen' },
    };
    assert.equal(EventPayload.safeParse(event).success, true);
    for (const data of [{ mrn: '12345' }, { case: { patientName: 'Roe^Jane' } }, { dob: 'x' }]) {
      assert.equal(EventPayload.safeParse({ ...event, data }).success, false, JSON.stringify(data));
    }
    const response = { transactionId: 't', status: 'ok', error: null };
    assert.equal(
      ResponsePayload.safeParse({ ...response, data: [{ firstName: 'J' }] }).success,
      false,
    );
    assert.equal(
      ResponsePayload.safeParse({ ...response, data: { name: 'reference' } }).success,
      true,
    );
  });

  test('find the path of an identifier', () => {
    assert.equal(findPatientIdentifier({ a: [{ b: { MRN: 1 } }] }), 'a.0.b.MRN');
    assert.equal(findPatientIdentifier({ model: { name: 'reference' } }), null);
    assert.equal(findPatientIdentifier({ hl7: { mrnRetentionMinutes: 5 } }), null);
    assert.equal(findPatientIdentifier({ hl7: { placerMrn: 'x' } }), 'hl7.placerMrn');
    assert.equal(findPatientIdentifier({ last_name: 'x' }), 'last_name');
  });

  test('status schema is strict', () => {
    assert.equal(StatusPayload.safeParse({ state: 'online', reason: 'connected' }).success, true);
    const extra = { state: 'online', reason: 'connected', patientName: 'x' };
    assert.equal(StatusPayload.safeParse(extra).success, false);
  });
});

describe('log ring', () => {
  test('keeps the last lines and redacts', () => {
    const ring = new LogRing(3);
    ring.write('{"msg":"a","mrn":"12345","password":"hunter2"}\n');
    ring.write('plain text\n{"msg":"b","patient":{"name":"Roe"}}\n{"msg":"c"}\n');
    assert.equal(ring.written, 4);
    const lines = ring.tail(10);
    assert.equal(lines.length, 3);
    assert.equal(lines[0], 'plain text');
    assert.equal(lines[2], '{"msg":"c"}');
    assert.deepEqual(JSON.parse(lines[1]!), { msg: 'b', patient: '[redacted]' });
    assert.deepEqual(ring.tail(1), ['{"msg":"c"}']);
    const fresh = new LogRing(5);
    fresh.write('{"mrn":"12345","token":"t"}');
    assert.deepEqual(JSON.parse(fresh.tail(1)[0]!), { mrn: '[redacted]', token: '[redacted]' });
  });
});

describe('latency recorder', () => {
  test('reports nearest-rank percentiles', () => {
    assert.equal(percentile([], 0.5), null);
    assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
    assert.equal(percentile([1, 2, 3, 4], 0.95), 4);
    const recorder = new LatencyRecorder(3);
    for (const ms of [100, 1, 2, 3]) recorder.record('view', ms);
    assert.deepEqual(recorder.summary('view'), { count: 3, p50Ms: 2, p95Ms: 3 });
    assert.deepEqual(recorder.summary('fusion'), { count: 0, p50Ms: null, p95Ms: null });
  });
});

describe('sysfs temperatures', () => {
  test('read thermal zones and hwmon', async () => {
    const root = join(tempDir, 'sysfs');
    const zone = async (name: string, type: string, temp: string): Promise<void> => {
      await mkdir(join(root, 'sys/class/thermal', name), { recursive: true });
      await writeFile(join(root, 'sys/class/thermal', name, 'type'), `${type}\n`);
      await writeFile(join(root, 'sys/class/thermal', name, 'temp'), `${temp}\n`);
    };
    await zone('thermal_zone0', 'CPU-therm', '45500');
    await zone('thermal_zone1', 'GPU-therm', '51000');
    await zone('thermal_zone2', 'cpu-thermal', '47250');
    await zone('thermal_zone3', 'AO-therm', '30000');
    await zone('thermal_zone4', 'gpu-thermal', '-273000');
    const hwmon = join(root, 'sys/class/hwmon/hwmon0');
    await mkdir(hwmon, { recursive: true });
    await writeFile(join(hwmon, 'name'), 'amdgpu\n');
    await writeFile(join(hwmon, 'temp1_input'), '56000\n');
    assert.deepEqual(await readTemperatures(root), { cpuC: 47.3, gpuC: 56 });
    assert.deepEqual(await readTemperatures(join(tempDir, 'absent')), { cpuC: null, gpuC: null });
  });
});

describe('config change', () => {
  async function writeFileConfig(name: string, text: string): Promise<string> {
    const path = join(tempDir, name);
    await writeFile(path, text);
    return path;
  }

  test('applies, keeps comments, diffs', async () => {
    const file = await writeFileConfig(
      'apply.yaml',
      configText('mqtt://127.0.0.1:1883', 'cart-1', tempDir),
    );
    const running = loadConfig({}, { file, env: {} });
    const result = await applyConfigChange(
      file,
      {
        values: { fleet: { telemetryIntervalS: 30 }, mqtt: { publishTimeoutMs: 7000 } },
        unset: [],
      },
      { env: {}, running },
    );
    assert.deepEqual(result.changedKeys, ['fleet.telemetryIntervalS', 'mqtt.publishTimeoutMs']);
    assert.deepEqual(result.before, {
      'fleet.telemetryIntervalS': 3600,
      'mqtt.publishTimeoutMs': 5000,
    });
    assert.deepEqual(result.after, {
      'fleet.telemetryIntervalS': 30,
      'mqtt.publishTimeoutMs': 7000,
    });
    const text = await readFile(file, 'utf8');
    assert.match(text, /# The test broker\./);
    assert.equal(loadConfig({}, { file, env: {} }).fleet.telemetryIntervalS, 30);
    const unset = await applyConfigChange(
      file,
      { values: {}, unset: ['fleet.telemetryIntervalS'] },
      { env: {}, running },
    );
    assert.deepEqual(unset.after, { 'fleet.telemetryIntervalS': 60 });
  });

  test('rejects a bad change whole', async () => {
    const original = configText('mqtt://127.0.0.1:1883', 'cart-1', tempDir);
    const file = await writeFileConfig('reject.yaml', original);
    const running = loadConfig({}, { file, env: {} });
    await assert.rejects(
      applyConfigChange(
        file,
        {
          values: { fleet: { telemetryIntervalS: 'fast' }, mqtt: { colour: 'red', site: 'b' } },
          unset: [],
        },
        { env: {}, running },
      ),
      (error: BvEdgeError) => {
        assert.equal(error.code, 'config_invalid');
        assert.match(error.message, /fleet\.telemetryIntervalS/);
        assert.match(error.message, /mqtt\.colour: unknown key/);
        assert.match(error.message, /reject\.yaml with the requested change/);
        return true;
      },
    );
    assert.equal(await readFile(file, 'utf8'), original);
  });

  test('edits a JSON file', async () => {
    const file = await writeFileConfig('config.json', JSON.stringify({ version: 2 }));
    const running = loadConfig({}, { file, env: {} });
    const result = await applyConfigChange(
      file,
      { values: { mqtt: { site: 'ward-3' } }, unset: [] },
      { env: {}, running },
    );
    assert.deepEqual(result.changedKeys, ['mqtt.site']);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), {
      version: 2,
      mqtt: { site: 'ward-3' },
    });
  });

  test('unset rejects unknown keys and version', async () => {
    const original = configText('mqtt://127.0.0.1:1883', 'cart-1', tempDir);
    const file = await writeFileConfig('unset.yaml', original);
    const running = loadConfig({}, { file, env: {} });
    const cases: [string, string][] = [
      ['nonexistent.key', 'config_key_not_found'],
      ['mqtt.url.x', 'config_key_not_found'],
      ['version', 'config_key_required'],
    ];
    for (const [key, code] of cases) {
      await assert.rejects(
        applyConfigChange(file, { values: {}, unset: [key] }, { env: {}, running }),
        (error: BvEdgeError) => {
          assert.equal(error.code, code, `unset ${key}`);
          assert.ok(error.message.includes(JSON.stringify(key)), `message names ${key}`);
          return true;
        },
      );
    }
    assert.equal(await readFile(file, 'utf8'), original);
    // A known key that the file leaves out is a change with nothing to remove.
    const absent = await applyConfigChange(
      file,
      { values: {}, unset: ['mqtt.tls.caFile'] },
      { env: {}, running },
    );
    assert.deepEqual(absent.changedKeys, []);
  });

  test('never echoes patient or unknown values', async () => {
    const original = configText('mqtt://127.0.0.1:1883', 'cart-1', tempDir);
    const file = await writeFileConfig('patient.yaml', original);
    const running = loadConfig({}, { file, env: {} });
    const requests: Record<string, unknown>[] = [
      { patientName: 'Jane Doe', mqtt: { patientMrn: 'MRN12345' } },
      { mqtt: { colour: 'Jane Doe' } },
    ];
    for (const values of requests) {
      await assert.rejects(
        applyConfigChange(file, { values, unset: [] }, { env: {}, running }),
        (error: BvEdgeError) => {
          assert.equal(error.code, 'config_invalid');
          assert.doesNotMatch(error.message, /Jane Doe|MRN12345/);
          assert.match(error.message, /patientName|mqtt\.colour/);
          return true;
        },
      );
    }
    assert.equal(await readFile(file, 'utf8'), original);
  });

  test('read-only folder gives config_not_writable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bv-edge-fleet-readonly-'));
    try {
      const folder = join(dir, 'etc');
      await mkdir(folder);
      const file = join(folder, 'config.yaml');
      await writeFile(file, configText('mqtt://127.0.0.1:1883', 'cart-1', dir), { mode: 0o644 });
      await chmod(folder, 0o555);
      await chmod(dir, 0o777);
      const error = await changeAsUnprivileged(dir, file);
      assert.equal(error.code, 'config_not_writable', error.message);
      assert.ok(error.message.includes(file), `message names ${file}: ${error.message}`);
      assert.match(error.message, /ReadWritePaths=/);
      assert.match(error.message, /EACCES/);
    } finally {
      await chmod(join(dir, 'etc'), 0o755).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('config hash ignores key order', () => {
    const config = loadConfig({}, { env: {} });
    const reordered = Object.fromEntries(Object.entries(config).reverse()) as typeof config;
    assert.equal(configHash(config), configHash(reordered));
    assert.notEqual(configHash(config), configHash({ ...config, dataDir: '/elsewhere' }));
    assert.match(configHash(config), /^[0-9a-f]{64}$/);
  });
});

describe('fleet agent on mosquitto', { skip: mosquittoSkipReason }, () => {
  let broker: Mosquitto;
  let harness: AgentHarness;
  let engineer: MqttClient;

  before(async () => {
    broker = await startMosquitto();
    harness = await startAgent(broker.url, 'cart-1');
    engineer = await connectAsync(broker.url, { clientId: 'engineer', reconnectPeriod: 0 });
  });

  after(async () => {
    await engineer.endAsync();
    await harness.stop();
    await broker.stop();
  });

  const ask = (command: string, params?: unknown) =>
    sendRequest(
      engineer,
      'bv-edge/v1',
      { site: SITE, device: 'cart-1' },
      {
        command,
        params,
        client: 'engineer@test',
        timeoutMs: 10_000,
      },
    );

  test('announces status and info', async () => {
    // The agent publishes both once connected; a later subscriber gets them as retained.
    const first = await record(broker.url, [`${harness.base}info`]);
    await first.next(`${harness.base}info`).finally(() => first.close());
    const recorder = await record(broker.url, [`${harness.base}status`, `${harness.base}info`]);
    try {
      const status = StatusPayload.parse(await recorder.next(`${harness.base}status`));
      assert.equal(status.state, 'online');
      const info = InfoPayload.parse(await recorder.next(`${harness.base}info`));
      assert.equal(info.device, 'cart-1');
      assert.equal(info.site, SITE);
      assert.equal(info.configHash, configHash(harness.config));
      assert.deepEqual(info.model, {
        name: 'reference',
        version: '1.0.0',
        intendedUse: 'reference',
        providers: { ivc: 'cpu', fusion: 'cpu' },
      });
      assert.deepEqual(info.bundles, FLEET_BUNDLES);
      assert.ok(
        recorder.messages.every((m) => m.retain),
        'status and info are retained',
      );
      assert.equal(findPatientIdentifier(recorder.messages), null);
    } finally {
      await recorder.close();
    }
  });

  test('answers each built-in command', async () => {
    const ping = await ask('ping');
    assert.equal(ping.status, 'ok');
    assert.equal((ping.data as { pong: boolean }).pong, true);

    const health = (await ask('health')).data as {
      status: string;
      checks: Record<string, { ok: boolean }>;
    };
    assert.equal(health.checks.mqtt!.ok, true);
    assert.equal(health.checks.capture!.ok, true);
    assert.equal(health.checks.inference!.ok, true);

    const site = await ask('config-get', { key: 'mqtt.site' });
    assert.deepEqual((site.data as { value: unknown }).value, SITE);
    const whole = (await ask('config-get')).data as { file: string; config: { dataDir: string } };
    assert.equal(whole.file, harness.configFile);
    assert.equal(whole.config.dataDir, harness.dir);
    const missing = await ask('config-get', { key: 'mqtt.colour' });
    assert.equal(missing.error && (missing.error as { code: string }).code, 'config_key_not_found');

    const models = (await ask('model-list')).data as { active: { version: string } };
    assert.equal(models.active.version, '1.0.0');

    const outbox = (await ask('outbox-stats')).data as { depth: number; full: boolean };
    assert.equal(typeof outbox.depth, 'number');
    assert.equal(outbox.full, false);

    harness.logger.info({ mrn: '555-1234', caseId: 'c-1' }, 'case opened');
    const tail = (await ask('log-tail', { lines: 5 })).data as { lines: string[] };
    const opened = tail.lines.find((line) => line.includes('case opened'));
    assert.ok(opened, `log tail has the line: ${JSON.stringify(tail.lines)}`);
    assert.ok(!opened.includes('555-1234'), `MRN redacted: ${opened}`);
    const tooMany = await ask('log-tail', { lines: 100_000 });
    assert.equal((tooMany.error as { code: string }).code, 'invalid_params');

    const restarted = await ask('capture-restart');
    assert.deepEqual(restarted.data, { before: 'live', state: 'starting' });
    assert.equal(harness.captureRestarts(), 1);
    harness.source.setState('live');
  });

  test('config-set applies, persists and audits', async () => {
    const response = await ask('config-set', {
      values: { fleet: { logTailMaxLines: 50 }, mqtt: { publishTimeoutMs: 8000 } },
    });
    assert.equal(response.status, 'ok', JSON.stringify(response.error));
    const data = response.data as { changedKeys: string[]; restartRequired: boolean };
    assert.deepEqual(data.changedKeys, ['fleet.logTailMaxLines', 'mqtt.publishTimeoutMs']);
    assert.equal(data.restartRequired, true);
    const reloaded = loadConfig({}, { file: harness.configFile, env: {} });
    assert.equal(reloaded.mqtt.publishTimeoutMs, 8000);
    assert.equal(reloaded.fleet.logTailMaxLines, 50);
    // The fleet section applies at once: log-tail now allows at most 50 lines.
    const tail = await ask('log-tail', { lines: 60 });
    assert.equal((tail.error as { code: string }).code, 'invalid_params');
    const audit = harness.store.db.select().from(auditLog).all();
    const entry = audit.find((row) => row.action === 'config.set');
    assert.ok(entry, 'config.set audit entry');
    assert.equal(entry.actor, 'fleet:engineer@test');
    assert.equal(entry.caseId, null);
    assert.deepEqual(entry.before, {
      file: harness.configFile,
      values: { 'fleet.logTailMaxLines': 200, 'mqtt.publishTimeoutMs': 5000 },
    });
    assert.deepEqual((entry.after as { values: unknown }).values, {
      'fleet.logTailMaxLines': 50,
      'mqtt.publishTimeoutMs': 8000,
    });
  });

  test('restartRequired compares with running config', async () => {
    const running = harness.config.mqtt.publishTimeoutMs;
    const away = await ask('config-set', { values: { mqtt: { publishTimeoutMs: running + 1 } } });
    assert.equal((away.data as { restartRequired: boolean }).restartRequired, true);
    const back = await ask('config-set', { values: { mqtt: { publishTimeoutMs: running } } });
    assert.equal(back.status, 'ok', JSON.stringify(back.error));
    const data = back.data as { changedKeys: string[]; restartRequired: boolean };
    assert.deepEqual(data.changedKeys, ['mqtt.publishTimeoutMs']);
    assert.equal(data.restartRequired, false);
  });

  test('config-set hides patient values', async () => {
    const response = await ask('config-set', {
      values: { patientName: 'Jane Doe', mqtt: { patientMrn: 'MRN12345' } },
    });
    assert.equal((response.error as { code: string }).code, 'config_invalid');
    assert.doesNotMatch(JSON.stringify(response), /Jane Doe|MRN12345/);
    const tail = await ask('log-tail', { lines: 50 });
    const lines = (tail.data as { lines: string[] }).lines.join('\n');
    assert.match(lines, /fleet request failed/);
    assert.doesNotMatch(lines, /Jane Doe|MRN12345/);
  });

  test('capture-restart burst restarts once', async () => {
    const before = harness.captureRestarts();
    const payload = (index: number) =>
      Buffer.from(JSON.stringify({ transactionId: `burst-${index}`, params: {} }));
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        harness.agent.router.route('capture-restart', payload(index)),
      ),
    );
    const statuses = outcomes.map((outcome) =>
      outcome.kind === 'response' ? outcome.response.status : 'rejected',
    );
    assert.ok(statuses.includes('ok'), `some requests succeed: ${statuses.join(', ')}`);
    assert.equal(harness.captureRestarts() - before, 1);
  });

  test('bad config-set is rejected whole', async () => {
    const before = await readFile(harness.configFile, 'utf8');
    const auditRows = harness.store.db.select().from(auditLog).all().length;
    const wrongType = await ask('config-set', {
      values: { fleet: { telemetryIntervalS: 'soon' } },
    });
    assert.equal(wrongType.status, 'error');
    assert.equal((wrongType.error as { code: string }).code, 'config_invalid');
    assert.match((wrongType.error as { message: string }).message, /fleet\.telemetryIntervalS/);
    const unknownKey = await ask('config-set', {
      values: { mqtt: { site: 'other', colour: 'red' } },
    });
    assert.equal(unknownKey.status, 'error');
    assert.match((unknownKey.error as { message: string }).message, /mqtt\.colour: unknown key/);
    const empty = await ask('config-set', {});
    assert.equal((empty.error as { code: string }).code, 'invalid_params');
    assert.equal(await readFile(harness.configFile, 'utf8'), before);
    assert.equal(harness.store.db.select().from(auditLog).all().length, auditRows);
  });

  test('malformed requests and the daemon goes on', async () => {
    const recorder = await record(broker.url, [
      `${harness.base}response/+`,
      `${harness.base}events`,
    ]);
    try {
      const send = (command: string, payload: string | Buffer) =>
        engineer.publishAsync(`${harness.base}request/${command}`, payload, { qos: 1 });
      await send('ping', '{"transactionId": "bad-json", ');
      await send('self-destruct', JSON.stringify({ transactionId: 'unknown' }));
      await send('log-tail', JSON.stringify({ transactionId: 'types', params: { lines: 'x' } }));
      const huge = JSON.stringify({ transactionId: 'huge', params: { pad: 'x'.repeat(1 << 20) } });
      await send('ping', huge);
      await send('ping', JSON.stringify({ params: {} }));
      const expected: [string, string, string][] = [
        ['ping', 'bad-json', 'invalid_json'],
        ['self-destruct', 'unknown', 'unknown_command'],
        ['log-tail', 'types', 'invalid_params'],
        ['ping', 'huge', 'payload_too_large'],
      ];
      for (const [command, transactionId, code] of expected) {
        const response = ResponsePayload.parse(
          await recorder.next(
            `${harness.base}response/${command}`,
            (payload) => (payload as { transactionId: string }).transactionId === transactionId,
          ),
        );
        assert.equal(response.status, 'error', transactionId);
        assert.equal(response.error?.code, code, transactionId);
      }
      const rejected = EventPayload.parse(
        await recorder.next(
          `${harness.base}events`,
          (payload) => (payload as { type: string }).type === 'request-rejected',
        ),
      );
      assert.equal(rejected.data.code, 'missing_transaction_id');
      const ping = await ask('ping');
      assert.equal(ping.status, 'ok');
    } finally {
      await recorder.close();
    }
  });

  test('telemetry and events go through the outbox', async () => {
    const recorder = await record(broker.url, [
      `${harness.base}telemetry`,
      `${harness.base}telemetry/latest`,
      `${harness.base}events`,
    ]);
    try {
      harness.source.setState('frozen');
      const frozen = EventPayload.parse(
        await recorder.next(
          `${harness.base}events`,
          (payload) => (payload as { type: string }).type === 'capture-frozen',
        ),
      );
      assert.equal(frozen.data.state, 'frozen');
      await harness.agent.sendTelemetry();
      const isFrozen = (payload: unknown) =>
        (payload as { capture: { state: string } }).capture.state === 'frozen';
      const telemetry = TelemetryPayload.parse(
        await recorder.next(`${harness.base}telemetry`, isFrozen),
      );
      assert.equal(telemetry.capture.state, 'frozen');
      assert.equal(telemetry.capture.framesDropped, 3);
      assert.equal(telemetry.mqttConnected, true);
      assert.ok(telemetry.disk, 'disk space is measured');
      assert.ok(telemetry.disk.freeBytes > 0, `free bytes ${telemetry.disk.freeBytes}`);
      assert.equal(telemetry.disk?.low, false);
      const latest = TelemetryPayload.parse(
        await recorder.next(`${harness.base}telemetry/latest`, isFrozen),
      );
      assert.equal(latest.messageId, telemetry.messageId);
      assert.equal(harness.agent.event('model-activated', { version: '2.0.0' }), true);
      assert.equal(harness.agent.event('model-activated', { patientName: 'Roe' }), false);
      assert.equal(harness.agent.event('Not A Type', {}), false);
      await recorder.next(
        `${harness.base}events`,
        (payload) => (payload as { type: string }).type === 'model-activated',
      );
      assert.equal(findPatientIdentifier(recorder.messages), null);
      harness.source.setState('live');
    } finally {
      await recorder.close();
    }
  });
});

describe('fleet status across broker restarts', { skip: mosquittoSkipReason }, () => {
  test('status is online again after a broker restart', async () => {
    let broker = await startMosquitto();
    const harness = await startAgent(broker.url, 'cart-2');
    try {
      const first = await record(broker.url, [`${harness.base}status`]);
      const status = (await first.next(`${harness.base}status`)) as { state: string };
      assert.equal(status.state, 'online');
      await first.close();
      // The broker keeps no retained messages across this restart, so only the daemon's
      // publish after its reconnect can put "online" back.
      await broker.stop();
      broker = await startMosquitto(broker.port);
      const fresh = await record(broker.url, [`${harness.base}status`]);
      try {
        const again = (await fresh.next(`${harness.base}status`, () => true, 20_000)) as {
          state: string;
        };
        assert.equal(again.state, 'online');
      } finally {
        await fresh.close();
      }
      const later = await record(broker.url, [`${harness.base}status`]);
      try {
        await later.next(`${harness.base}status`);
        assert.equal(later.messages[0]?.retain, true);
        assert.equal((later.messages[0]?.payload as { state: string }).state, 'online');
      } finally {
        await later.close();
      }
      await harness.agent.stop();
      const stopped = await record(broker.url, [`${harness.base}status`]);
      try {
        const offline = StatusPayload.parse(await stopped.next(`${harness.base}status`));
        assert.equal(offline.state, 'offline');
        assert.equal(offline.reason, 'stopped');
      } finally {
        await stopped.close();
      }
    } finally {
      await harness.stop();
      await broker.stop();
    }
  });
});

describe('fleet last will of the daemon', { skip: mosquittoSkipReason }, () => {
  test('SIGKILL leaves the retained status offline', { timeout: 180_000 }, async () => {
    const broker = await startMosquitto();
    const dir = await mkdtemp(join(tmpdir(), 'bv-edge-fleet-will-'));
    const configFile = join(dir, 'bv-edge.yaml');
    await writeFile(
      configFile,
      [
        'version: 2',
        `dataDir: ${dir}`,
        'providers: [cpu]',
        'mqtt:',
        `  url: ${broker.url}`,
        `  site: ${SITE}`,
        '  device: cart-will',
        'http:',
        '  port: 0',
        '',
      ].join('\n'),
    );
    const base = `bv-edge/v1/${SITE}/cart-will/`;
    const daemon = spawn(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'src/cli.ts'), 'run', '--config', configFile],
      { cwd: repoRoot, env: { ...process.env, BV_EDGE_LOG_LEVEL: 'warn' }, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => daemon.once('exit', resolve));
    try {
      const online = await record(broker.url, [`${base}status`]);
      try {
        const status = (await online.next(`${base}status`, undefined, 150_000)) as {
          state: string;
        };
        assert.equal(status.state, 'online');
      } finally {
        await online.close();
      }
      daemon.kill('SIGKILL');
      await exited;
      const after = await record(broker.url, [`${base}status`]);
      try {
        const status = StatusPayload.parse(
          await after.next(`${base}status`, (p) => (p as { state: string }).state === 'offline'),
        );
        assert.equal(status.reason, 'connection-lost');
        assert.equal(after.messages.at(-1)?.retain, true);
      } finally {
        await after.close();
      }
    } finally {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        daemon.kill('SIGKILL');
        await exited;
      }
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
