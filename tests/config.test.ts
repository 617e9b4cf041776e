import assert from 'node:assert/strict';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { z } from 'zod';
import {
  DEFAULT_ANTICOAGULANT_ML_PER_BAG,
  DEFAULT_MIN_EQUILIBRATION_MINUTES,
} from '../src/clinical/anh.ts';
import { HEMOGLOBIN_UNITS } from '../src/clinical/units.ts';
import { DEFAULT_BLOOD_VOLUME_ML_PER_KG } from '../src/clinical/weight-based.ts';
import { configCommand } from '../src/commands/config.ts';
import {
  CONFIG_VERSION,
  ConfigSchema,
  envVariableName,
  loadConfig,
  readSecrets,
  renderExampleConfig,
  resolveConfig,
  Secret,
} from '../src/config/index.ts';
import { keyDocs } from '../src/config/describe.ts';
import { childKeys, unwrapSchema } from '../src/config/schema-walk.ts';
import { BvEdgeError } from '../src/core/errors.ts';
import { VIEW_NAMES } from '../src/core/image.ts';
import { createLogger, silentLogger } from '../src/core/log.ts';
import { EXECUTION_PROVIDERS } from '../src/inference/engine.ts';
import { runCli } from './helpers/cli.ts';
import { repoRoot } from './helpers/data.ts';

const NO_ENV = {};

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'bv-edge-config-'));
}

function writeTemp(name: string, text: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

/** Runs `fn`, which must throw a BvEdgeError, and returns that error. */
function configErrorOf(fn: () => unknown): BvEdgeError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof BvEdgeError, `expected a BvEdgeError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected an error');
}

/** Collects what a command writes. */
function output(): { write(text: string): boolean; text(): string } {
  let collected = '';
  return {
    write(text: string) {
      collected += text;
      return true;
    },
    text: () => collected,
  };
}

/** Lists every key path of the schema with its schema, variants of unions included. */
function leafKeys(schema: z.ZodType, path: string[] = []): { path: string; schema: z.ZodType }[] {
  const children = childKeys(schema);
  if (children.size === 0) return [{ path: path.join('.'), schema }];
  const keys: { path: string; schema: z.ZodType }[] = [];
  for (const [key, schemas] of children) {
    for (const child of schemas) {
      keys.push({ path: [...path, key].join('.'), schema: child });
      if (unwrapSchema(child).schema !== child || childKeys(child).size > 0) {
        keys.push(...leafKeys(child, [...path, key]).filter((entry) => entry.schema !== child));
      }
    }
  }
  return keys;
}

test('defaults without file or environment', () => {
  const config = loadConfig({}, { env: NO_ENV });
  assert.deepEqual(config, ConfigSchema.parse({}));
  assert.equal(config.version, CONFIG_VERSION);
  assert.equal(config.dataDir, resolve(repoRoot, 'var'));
  assert.equal(config.http.host, '127.0.0.1');
  assert.equal(config.http.port, 8080);
  assert.deepEqual(config.capture.source, { kind: 'v4l2', device: '/dev/video0' });
  assert.equal(config.workflow.recordSeconds, 6);
  assert.equal(config.capture.imageArea, null);
});

test('yaml file sets nested keys', () => {
  const file = writeTemp(
    'bv-edge.yaml',
    [
      'version: 2',
      'mqtt:',
      '  url: mqtts://broker.example:8883',
      '  site: ward-3',
      'capture:',
      '  source:',
      '    kind: file',
      '    path: /srv/clip.mp4',
      '    realTime: false',
      '  imageArea: { x: 10, y: 20, width: 300, height: 200 }',
      'workflow:',
      '  requiredViews: [ivc, ca]',
    ].join('\n'),
  );
  const config = loadConfig({}, { file, env: NO_ENV });
  assert.equal(config.mqtt.url, 'mqtts://broker.example:8883');
  assert.equal(config.mqtt.site, 'ward-3');
  assert.equal(config.mqtt.publishTimeoutMs, 5000);
  assert.deepEqual(config.capture.source, {
    kind: 'file',
    path: '/srv/clip.mp4',
    loop: true,
    realTime: false,
  });
  assert.deepEqual(config.capture.imageArea, { x: 10, y: 20, width: 300, height: 200 });
  assert.deepEqual(config.workflow.requiredViews, ['ivc', 'ca']);
});

test('json file is read as json', () => {
  const file = writeTemp('bv-edge.json', JSON.stringify({ http: { port: 9090 } }));
  assert.equal(loadConfig({}, { file, env: NO_ENV }).http.port, 9090);
});

test('environment overrides by key path', () => {
  assert.equal(envVariableName(['mqtt', 'publishTimeoutMs']), 'BV_EDGE__MQTT__PUBLISH_TIMEOUT_MS');
  const file = writeTemp('bv-edge.yaml', 'mqtt:\n  url: mqtt://file:1883\n  site: from-file\n');
  const env = {
    BV_EDGE__MQTT__URL: 'mqtt://env:1883',
    BV_EDGE__MQTT__PUBLISH_TIMEOUT_MS: '2500',
    BV_EDGE__TENSORRT__FP16: 'false',
    BV_EDGE__TENSORRT__ENGINE_CACHE_DIR: '/var/cache/trt',
    BV_EDGE__PROVIDERS: 'cuda,cpu',
    BV_EDGE__WORKFLOW__REQUIRED_VIEWS: '[ivc, ijv]',
    BV_EDGE__CAPTURE__SOURCE__KIND: 'test',
    BV_EDGE__CAPTURE__SOURCE__PATTERN: 'ball',
    BV_EDGE__CAPTURE__IMAGE_AREA: '{"x": 1, "y": 2, "width": 3, "height": 4}',
    BV_EDGE_HOME: '/srv/bv-edge',
    UNRELATED: 'ignored',
  };

  const loaded = resolveConfig({ file, env });
  const config = loaded.config;
  assert.equal(config.mqtt.url, 'mqtt://env:1883');
  assert.equal(config.mqtt.site, 'from-file');
  assert.equal(config.mqtt.publishTimeoutMs, 2500);
  assert.equal(config.tensorrt.fp16, false);
  assert.equal(config.tensorrt.engineCacheDir, '/var/cache/trt');
  assert.deepEqual(config.providers, ['cuda', 'cpu']);
  assert.deepEqual(config.workflow.requiredViews, ['ivc', 'ijv']);
  assert.deepEqual(config.capture.source, {
    kind: 'test',
    pattern: 'ball',
    width: 640,
    height: 480,
    framerate: 30,
  });
  assert.deepEqual(config.capture.imageArea, { x: 1, y: 2, width: 3, height: 4 });
  assert.equal(config.dataDir, '/srv/bv-edge');
  assert.ok(loaded.envVariables.includes('BV_EDGE__MQTT__URL'), loaded.envVariables.join(', '));
  assert.ok(!loaded.envVariables.includes('UNRELATED'), 'unrelated variable listed');
});

test('overrides win over environment and file', () => {
  const file = writeTemp('bv-edge.yaml', 'mqtt:\n  url: mqtt://file:1883\n');
  const env = { BV_EDGE__MQTT__URL: 'mqtt://env:1883', BV_EDGE__MQTT__SITE: 'env-site' };
  const config = loadConfig({ mqtt: { url: 'mqtt://flag:1883' } }, { file, env });
  assert.equal(config.mqtt.url, 'mqtt://flag:1883');
  assert.equal(config.mqtt.site, 'env-site');
});

test('source of another kind replaces the file source', () => {
  const file = writeTemp('bv-edge.yaml', 'capture:\n  source:\n    kind: file\n    path: /x.mp4\n');
  const config = loadConfig({ capture: { source: { kind: 'test' } } }, { file, env: NO_ENV });
  assert.equal(config.capture.source.kind, 'test');
});

test('every problem reported at once', () => {
  const file = writeTemp(
    'bad.yaml',
    [
      'mqtt:',
      '  url: http://wrong',
      '  pasword: hunter2',
      'http:',
      '  port: 70000',
      'capture:',
      '  source:',
      '    kind: file',
      'workflow:',
      '  requiredViews: [ivc, ivc]',
      'clinical:',
      '  bloodVolumeMlPerKg: 7',
    ].join('\n'),
  );
  const env = { BV_EDGE__HTTP__PORT: 'eighty', BV_EDGE__NO_SUCH_KEY: '1' };
  const error = configErrorOf(() => resolveConfig({ file, env }));
  assert.equal(error.code, 'config_invalid');
  const lines = error.message.split('\n');
  const expected: [string, RegExp][] = [
    ['mqtt.url', /found "http:\/\/wrong"/],
    ['mqtt.pasword', /unknown key.*found "hunter2"/],
    ['capture.source.path', /missing \(expected string\)$/],
    ['http.port', /found 70000/],
    ['workflow.requiredViews', /views must not repeat/],
    ['clinical.bloodVolumeMlPerKg', /found 7/],
    ['BV_EDGE__HTTP__PORT (http.port)', /expected a number \(found "eighty"\)/],
    ['BV_EDGE__NO_SUCH_KEY', /no config key matches/],
  ];
  for (const [path, detail] of expected) {
    const line = lines.find((text) => text.trimStart().startsWith(`${path}:`));
    assert.ok(line !== undefined, `no line for ${path} in:\n${error.message}`);
    assert.match(line, detail, `line for ${path}`);
  }
  assert.match(error.message, /^Invalid config from .*bad\.yaml and environment/);
  assert.match(error.message, /8 problems/);
  assert.ok(Array.isArray(error.value), 'the error value lists the problems');
});

test('inline secrets are not echoed', () => {
  const file = writeTemp('bad.yaml', 'mqtt:\n  password: hunter2\n  auth: { token: s3cret }\n');
  const error = configErrorOf(() => resolveConfig({ file, env: NO_ENV }));
  assert.match(error.message, /mqtt\.password: unknown key/);
  assert.ok(!error.message.includes('hunter2'), error.message);
  assert.ok(!error.message.includes('s3cret'), error.message);
  assert.ok(!JSON.stringify(error.value).includes('hunter2'), 'secret in the error value');
});

test('yaml syntax error names the line', () => {
  const file = writeTemp('broken.yaml', 'mqtt:\n  url: [unclosed\nhttp: {\n');
  const error = configErrorOf(() => resolveConfig({ file, env: NO_ENV }));
  assert.match(error.message, /invalid YAML: line \d+, column \d+/);
});

test('duplicate yaml keys are rejected', () => {
  const file = writeTemp('dup.yaml', 'http:\n  port: 1\n  port: 2\n');
  const error = configErrorOf(() => resolveConfig({ file, env: NO_ENV }));
  assert.match(error.message, /invalid YAML/);
});

test('top level must be a mapping', () => {
  const file = writeTemp('list.yaml', '- a\n- b\n');
  const error = configErrorOf(() => resolveConfig({ file, env: NO_ENV }));
  assert.match(error.message, /\(top level\): expected a mapping/);
});

test('missing file names the path', () => {
  const error = configErrorOf(() => resolveConfig({ file: '/nonexistent/bv-edge.yaml' }));
  assert.equal(error.code, 'config_file_unreadable');
  assert.match(error.message, /\/nonexistent\/bv-edge\.yaml is not found/);
});

test('non-loopback http needs a token', () => {
  const error = configErrorOf(() => loadConfig({ http: { host: '0.0.0.0' } }, { env: NO_ENV }));
  assert.match(
    error.message,
    /http\.tokenFile: required because http\.host 0\.0\.0\.0 is not a loopback address/,
  );
  assert.ok(!error.message.includes('found'), `the message repeats a value: ${error.message}`);
  const config = loadConfig(
    { http: { host: '0.0.0.0', tokenFile: '/etc/bv-edge/api-token' } },
    { env: NO_ENV },
  );
  assert.equal(config.http.host, '0.0.0.0');
});

test('cross-field problems come with the others', () => {
  const file = writeTemp(
    'many.yaml',
    'version: 2\nmqtt:\n  url: 12\nhttp:\n  host: 0.0.0.0\nhl7:\n  enabled: true\n' +
      '  processingId: X\n',
  );
  const error = configErrorOf(() => resolveConfig({ file, env: NO_ENV }));
  const paths = error.message
    .split('\n')
    .slice(1, -1)
    .map((line) => line.trim().split(':')[0]);
  assert.deepEqual(paths.sort(), [
    'hl7.host',
    'hl7.port',
    'hl7.processingId',
    'http.tokenFile',
    'mqtt.url',
  ]);
  assert.match(error.message, /5 problems:/);
  assert.match(error.message, /http\.tokenFile: required because http\.host 0\.0\.0\.0 is not/);
});

test('pipeline source rejects its own appsink', () => {
  const source = { kind: 'pipeline' as const, launch: 'videotestsrc ! appsink' };
  const error = configErrorOf(() => loadConfig({ capture: { source } }, { env: NO_ENV }));
  assert.match(error.message, /capture\.source\.launch: leave out the sink/);
});

test('version 1 file is migrated', () => {
  const file = writeTemp(
    'v1.yaml',
    'dataDir: /srv/bv-edge\nproviders: [cpu]\nmqtt:\n  url: mqtt://old:1883\n  site: a\n',
  );
  const loaded = resolveConfig({ file, env: NO_ENV });
  assert.equal(loaded.fileVersion, 1);
  assert.equal(loaded.migrationSteps.length, 1);
  assert.match(loaded.migrationSteps[0]!, /version 1 to 2/);
  assert.equal(loaded.config.version, 2);
  assert.equal(loaded.config.dataDir, '/srv/bv-edge');
  assert.deepEqual(loaded.config.providers, ['cpu']);
  assert.equal(loaded.config.mqtt.url, 'mqtt://old:1883');
});

test('newer or invalid version is rejected', () => {
  const newer = writeTemp('v3.yaml', 'version: 3\n');
  const error = configErrorOf(() => resolveConfig({ file: newer, env: NO_ENV }));
  assert.match(error.message, /version: this bv-edge reads config versions up to 2/);
  assert.match(error.message, /1 problem:/);
  const text = writeTemp('vx.yaml', 'version: two\n');
  assert.match(
    configErrorOf(() => resolveConfig({ file: text, env: NO_ENV })).message,
    /version: expected a positive integer/,
  );
});

test('secrets are read from files', async () => {
  const dir = tempDir();
  const passwordFile = join(dir, 'password');
  const tokenFile = join(dir, 'token');
  writeFileSync(passwordFile, 'correct horse\n', { mode: 0o600 });
  writeFileSync(tokenFile, 'tok-0123456789abcdef', { mode: 0o600 });
  const config = loadConfig(
    { mqtt: { username: 'cart', passwordFile }, http: { tokenFile } },
    { env: NO_ENV },
  );
  const secrets = await readSecrets(config, silentLogger());
  assert.ok(secrets.mqttPassword instanceof Secret, 'the password is a Secret');
  assert.equal(secrets.mqttPassword?.reveal(), 'correct horse');
  assert.equal(secrets.httpToken?.reveal(), 'tok-0123456789abcdef');
  assert.equal(secrets.mqttTls.key, null);
  assert.equal(JSON.stringify(secrets).includes('correct horse'), false);
  assert.equal(String(secrets.httpToken), '[secret]');
  assert.ok(!inspect(secrets).includes('tok-0123456789abcdef'), inspect(secrets));
});

test('missing secret files are listed together', async () => {
  const config = loadConfig(
    { mqtt: { username: 'cart', passwordFile: '/nonexistent/pw' }, http: { tokenFile: '/nope' } },
    { env: NO_ENV },
  );
  await assert.rejects(readSecrets(config, silentLogger()), (error: unknown) => {
    assert.ok(error instanceof BvEdgeError, 'a BvEdgeError');
    assert.equal(error.code, 'secret_file_invalid');
    assert.match(error.message, /mqtt\.passwordFile \/nonexistent\/pw: not found/);
    assert.match(error.message, /http\.tokenFile \/nope: not found/);
    return true;
  });
});

test('unknown variable suggests the closest key', () => {
  assert.throws(
    () => loadConfig({}, { env: { BV_EDGE__FLEET__TELEMETRYINTERVALS: '30' } }),
    /did you mean BV_EDGE__FLEET__TELEMETRY_INTERVAL_S\?/,
  );
});

test('missing CA file gets certificate advice', async () => {
  const config = loadConfig(
    {
      mqtt: {
        username: 'cart',
        passwordFile: '/nonexistent/pw',
        tls: { caFile: '/nonexistent/ca.pem' },
      },
    },
    { env: NO_ENV },
  );
  await assert.rejects(readSecrets(config, silentLogger()), (error: unknown) => {
    assert.ok(error instanceof BvEdgeError, 'a BvEdgeError');
    const lines = error.message.split('\n');
    const ca = lines.find((line) => line.includes('mqtt.tls.caFile')) ?? '';
    const password = lines.find((line) => line.includes('mqtt.passwordFile')) ?? '';
    assert.match(ca, /PEM certificate/);
    assert.doesNotMatch(ca, /secret|chmod/);
    assert.match(password, /chmod 600/);
    assert.doesNotMatch(error.message, /a secret file/);
    return true;
  });
});

test('empty secret file is rejected', async () => {
  const tokenFile = writeTemp('token', '\n');
  const config = loadConfig({ http: { tokenFile } }, { env: NO_ENV });
  await assert.rejects(readSecrets(config, silentLogger()), /http\.tokenFile .*: empty/);
});

test('short API token is rejected', async () => {
  const tokenFile = writeTemp('token', 'k#3\n');
  const config = loadConfig({ http: { tokenFile } }, { env: NO_ENV });
  await assert.rejects(readSecrets(config, silentLogger()), (error: unknown) => {
    assert.ok(error instanceof BvEdgeError, 'a BvEdgeError');
    assert.equal(error.code, 'secret_file_invalid');
    assert.match(
      error.message,
      /http\.tokenFile .*: too short: the token has 3 characters and needs at least 16/,
    );
    assert.ok(!error.message.includes('k#3'), `the token is in the message: ${error.message}`);
    return true;
  });
  const enough = writeTemp('token16', '0123456789abcdef\n');
  const secrets = await readSecrets(
    loadConfig({ http: { tokenFile: enough } }, { env: NO_ENV }),
    silentLogger(),
  );
  assert.equal(secrets.httpToken?.reveal(), '0123456789abcdef');
});

test('secrets never reach the log', async () => {
  const dir = tempDir();
  const passwordFile = join(dir, 'password');
  const tokenFile = join(dir, 'token');
  writeFileSync(passwordFile, 'pw-never-logged');
  writeFileSync(tokenFile, 'token-never-logged');
  // Mode 0644 on purpose, so that the permission warning is logged as well.
  chmodSync(passwordFile, 0o644);
  const configFile = writeTemp(
    'bv-edge.yaml',
    `mqtt:\n  username: cart\n  passwordFile: ${passwordFile}\nhttp:\n  tokenFile: ${tokenFile}\n`,
  );

  const logPath = join(dir, 'log.ndjson');
  const fd = openSync(logPath, 'w');
  try {
    const logger = createLogger({ level: 'trace', destination: fd });
    const config = loadConfig({}, { file: configFile, env: NO_ENV });
    const secrets = await readSecrets(config, logger);
    logger.info({ config, secrets }, 'config and secrets');
    logger.info({ password: secrets.mqttPassword!.reveal() }, 'a careless call');
    logger.info({ mqtt: { token: secrets.httpToken!.reveal() } }, 'another careless call');
    const out = output();
    assert.equal(await configCommand(['check', configFile], logger, out), 0);
  } finally {
    closeSync(fd);
  }

  const log = readFileSync(logPath, 'utf8');
  assert.match(log, /secret file is readable by other users/);
  assert.match(log, /config and secrets/);
  assert.ok(!log.includes('pw-never-logged'), 'password in the log');
  assert.ok(!log.includes('token-never-logged'), 'token in the log');
});

test('schema defaults agree with code', () => {
  const config = loadConfig({}, { env: NO_ENV });
  assert.equal(config.clinical.bloodVolumeMlPerKg, DEFAULT_BLOOD_VOLUME_ML_PER_KG);
  assert.equal(config.clinical.anticoagulantMlPerBag, DEFAULT_ANTICOAGULANT_ML_PER_BAG);
  assert.equal(config.clinical.minEquilibrationMinutes, DEFAULT_MIN_EQUILIBRATION_MINUTES);
  assert.equal(config.clinical.hemoglobinUnit, HEMOGLOBIN_UNITS[0]);
  assert.deepEqual(config.providers, [...EXECUTION_PROVIDERS]);
  assert.deepEqual(config.workflow.requiredViews, [...VIEW_NAMES]);
});

test('cli help states the schema defaults', async () => {
  const config = loadConfig({}, { env: NO_ENV });
  const help = await runCli(['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.ok(help.stdout.includes(`(default ${config.mqtt.url})`), 'broker default in --help');
  assert.ok(help.stdout.includes(`(default ${config.http.port})`), 'port default in --help');
});

test('every key is documented', () => {
  const keys = leafKeys(ConfigSchema);
  assert.ok(keys.length > 60, `only ${keys.length} keys found`);
  for (const { path, schema } of keys) {
    const inner = unwrapSchema(schema).schema;
    const group =
      inner instanceof z.ZodUnion || (inner instanceof z.ZodObject && !/imageArea$/.test(path));
    if (group || /\.kind$/.test(path) || /imageArea\.(x|y|width|height)$/.test(path)) {
      assert.ok(schema.description, `${path} has no description`);
      continue;
    }
    const text = keyDocs(schema).description ?? '';
    assert.match(text, /(Default: .+|Optional|Required)\.$/, `${path}: "${text}"`);
  }
});

test('example file matches the schema', () => {
  const example = join(repoRoot, 'deploy/bv-edge.example.yaml');
  assert.equal(readFileSync(example, 'utf8'), renderExampleConfig());
  const loaded = resolveConfig({ file: example, env: NO_ENV });
  assert.deepEqual(loaded.config, loadConfig({}, { env: NO_ENV }));
  assert.equal(loaded.fileVersion, CONFIG_VERSION);
});

test('config check reports a valid file', async () => {
  const file = writeTemp('bv-edge.yaml', 'http:\n  port: 9000\n');
  const out = output();
  assert.equal(await configCommand(['check', file], silentLogger(), out), 0);
  assert.match(out.text(), /bv-edge\.yaml: valid \(config version 1\)/);
  assert.match(out.text(), /Migrated in memory, version 1 to 2/);
});

test('config check rejects a bad file', async () => {
  const file = writeTemp('bv-edge.yaml', 'version: 2\nhttp:\n  port: -1\n');
  await assert.rejects(configCommand(['check', file], silentLogger(), output()), /http\.port/);
});

test('config command usage errors', async () => {
  await assert.rejects(configCommand([], silentLogger(), output()), /Missing config action/);
  await assert.rejects(configCommand(['check'], silentLogger(), output()), /Missing FILE/);
  await assert.rejects(configCommand(['frob'], silentLogger(), output()), /Unknown config action/);
  await assert.rejects(
    configCommand(['show', 'a.yaml', 'b.yaml'], silentLogger(), output()),
    /Unexpected argument "b\.yaml"/,
  );
});

test('config show prints the effective config', async () => {
  const file = writeTemp('bv-edge.yaml', 'version: 2\nmqtt:\n  site: ward-9\n');
  const out = output();
  assert.equal(await configCommand(['show', file, '--json'], silentLogger(), out), 0);
  const shown = JSON.parse(out.text()) as { mqtt: { site: string }; http: { port: number } };
  assert.equal(shown.mqtt.site, 'ward-9');
  assert.equal(shown.http.port, 8080);
  const defaults = output();
  assert.equal(await configCommand(['defaults'], silentLogger(), defaults), 0);
  assert.equal(defaults.text(), renderExampleConfig());
});
