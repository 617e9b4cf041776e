import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { BvEdgeError } from '../src/core/errors.ts';
import { silentLogger } from '../src/core/log.ts';
import { loadBundle, MANIFEST_FILE } from '../src/inference/bundle.ts';
import { InferenceEngine } from '../src/inference/engine.ts';
import { parseManifest } from '../src/inference/manifest.ts';
import type { TestVector } from '../src/inference/test-vector.ts';
import {
  HealthGate,
  ModelManager,
  packBundle,
  parsePublicKey,
  readArchive,
  signArchive,
  type ModelEventType,
} from '../src/ota/index.ts';
import { satisfies } from '../src/ota/semver.ts';
import { verifyManifest } from '../src/ota/signing.ts';
import { readTar, writeTar } from '../src/ota/tar.ts';
import { openDatabase, type Store } from '../src/store/index.ts';
import { auditLog, modelInstalls } from '../src/store/schema.ts';
import { WorkflowService } from '../src/workflow/service.ts';
import { WorkflowSettingsSchema } from '../src/workflow/settings.ts';
import {
  buildOtaBundle,
  newSigningKey,
  patchManifest,
  otaConfig,
  type SigningKey,
} from './fixtures/ota-bundles.ts';
import { FileFrameSource } from './helpers/file-frame-source.ts';

const logger = silentLogger();
const MAX_BYTES = 64 * 2 ** 20;
const tempDirs: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bv-edge-ota-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function assertRejects(
  promise: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof BvEdgeError, `expected a BvEdgeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

/** Replaces the name of a one-entry tar archive and fixes its header checksum. */
function renameEntry(tar: Uint8Array, name: string): Uint8Array {
  const copy = Uint8Array.from(tar);
  copy.fill(0, 0, 100);
  copy.set(new TextEncoder().encode(name), 0);
  copy.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += copy[i]!;
  copy.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return copy;
}

/**
 * Builds a bundle whose plausibleRangeMl ends below its own test-vector estimate and returns
 * the new upper bound.
 */
async function buildOutOfRangeBundle(dir: string, version: string): Promise<number> {
  const manifest = await buildOtaBundle(dir, { version });
  const vector = JSON.parse(
    await readFile(join(dir, manifest.testVector.file), 'utf8'),
  ) as TestVector;
  const max = Math.floor(vector.fusion.expected.bvMl) - 1;
  await patchManifest(dir, (patched) => {
    patched.plausibleRangeMl = [1, max];
  });
  return max;
}

describe('tar archive', () => {
  test('round trip of files', () => {
    const files = [
      { name: 'a.json', data: new TextEncoder().encode('{"a":1}') },
      { name: 'empty', data: new Uint8Array(0) },
      { name: 'block.bin', data: new Uint8Array(512).fill(7) },
    ];
    const read = readTar(writeTar(files));
    assert.deepEqual(
      read.map((entry) => entry.name),
      ['a.json', 'empty', 'block.bin'],
    );
    assert.deepEqual(Buffer.from(read[0]!.data), Buffer.from(files[0]!.data));
    assert.equal(read[1]!.data.length, 0);
    assert.deepEqual(Buffer.from(read[2]!.data), Buffer.from(files[2]!.data));
  });

  test('path traversal rejected', () => {
    const tar = writeTar([{ name: 'xxxxxxxxx', data: new Uint8Array(3) }]);
    for (const name of ['../evil', '/etc/passwd', 'sub/file', '.hidden']) {
      assert.throws(
        () => readTar(renameEntry(tar, name)),
        (error: BvEdgeError) =>
          error.code === 'archive_invalid' && /path traversal/.test(error.message),
        name,
      );
    }
    assert.throws(() => writeTar([{ name: '../evil', data: new Uint8Array(1) }]), /plain name/);
  });

  test('truncated and corrupt archives rejected', () => {
    const tar = writeTar([{ name: 'model.onnx', data: new Uint8Array(2000).fill(1) }]);
    assert.throws(() => readTar(tar.subarray(0, 1024)), /truncated/);
    assert.throws(() => readTar(tar.subarray(0, tar.length - 1024)), /two zero blocks/);
    const corrupt = Uint8Array.from(tar);
    corrupt[10] = 0x41;
    assert.throws(() => readTar(corrupt), /checksum/);
  });

  test('links and duplicates rejected', () => {
    const tar = writeTar([{ name: 'link', data: new Uint8Array(0) }]);
    const link = renameEntry(tar, 'link');
    link[156] = 0x32; // typeflag '2': symbolic link
    assert.throws(() => readTar(renameEntry(link, 'link')), /only regular files/);
    assert.throws(() => readTar(renameEntry(link, 'link')), /"link" is a symbolic link/);
    const twice = writeTar([
      { name: 'same', data: new Uint8Array(1) },
      { name: 'same', data: new Uint8Array(1) },
    ]);
    assert.throws(() => readTar(twice), /appears twice/);
  });
});

describe('semver ranges', () => {
  const cases: [string, string, boolean][] = [
    ['0.1.0', '>=0.1.0 <1.0.0', true],
    ['1.0.0', '>=0.1.0 <1.0.0', false],
    ['0.1.5', '^0.1.0', true],
    ['0.2.0', '^0.1.0', false],
    ['1.4.0', '^1.2.3', true],
    ['2.0.0', '^1.2.3', false],
    ['1.2.9', '~1.2.3', true],
    ['1.3.0', '~1.2.3', false],
    ['0.1.0', '0.x', true],
    ['1.0.0', '0.x || >=2.0.0', false],
    ['2.1.0', '0.x || >=2.0.0', true],
    ['1.5.0', '1.0.0 - 1.5.0', true],
    ['1.5.1', '1.0.0 - 1.5.0', false],
    ['1.0.0-rc.1', '>=1.0.0', false],
    ['0.1.0', '*', true],
    ['0.1.0', '>= 0.1.0', true],
  ];
  for (const [version, range, expected] of cases) {
    test(`${version} in "${range}"`, () => {
      assert.equal(satisfies(version, range), expected);
    });
  }

  test('invalid range rejected', () => {
    assert.throws(() => satisfies('0.1.0', 'version one'), /Invalid version range "version one"/);
  });

  test('manifest requires field checked', async () => {
    const dir = tempDir('requires');
    const manifest = await buildOtaBundle(dir, { version: '1.0.0' });
    const raw = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
    raw.requires = { daemon: 'newest please' };
    assert.throws(() => parseManifest(raw, 'test'), /requires\.daemon.*npm semver range/);
    raw.requires = { daemon: '>=0.1.0', providers: ['cpu'] };
    assert.deepEqual(parseManifest(raw, 'test').requires, {
      daemon: '>=0.1.0',
      providers: ['cpu'],
    });
    delete raw.requires;
    assert.equal(parseManifest(raw, 'test').requires, undefined, 'the field stays optional');
  });
});

describe('signatures', () => {
  test('public key forms and key id', () => {
    const key = newSigningKey();
    const fromPem = parsePublicKey(key.publicPem, 'pem');
    const fromRaw = parsePublicKey(key.publicBase64, 'raw');
    assert.equal(fromPem.keyId, key.keyId);
    assert.equal(fromRaw.keyId, key.keyId);
    assert.match(key.keyId, /^[0-9a-f]{16}$/);
    assert.throws(
      () => parsePublicKey('c2hvcnQ=', 'models.trustedKeys[0]'),
      /models\.trustedKeys\[0\].*5 bytes, expected 32/,
    );
    assert.throws(
      () => parsePublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', 'pem'),
      /Invalid public key in pem/,
    );
  });

  test('verify, unknown key and tampering', () => {
    const signer = newSigningKey();
    const other = newSigningKey();
    const manifest = new TextEncoder().encode('{"version":"1"}');
    const trusted = parsePublicKey(signer.publicBase64, 'test');
    const unsigned = gzipSync(writeTar([{ name: MANIFEST_FILE, data: manifest }]));
    const signature = readArchive(
      signArchive(unsigned, signer.privateKey, MAX_BYTES),
      MAX_BYTES,
    ).signature!;
    assert.equal(signature.keyId, signer.keyId);
    assert.equal(verifyManifest(manifest, signature, [trusted]).keyId, signer.keyId);
    assert.throws(
      () => verifyManifest(manifest, signature, [parsePublicKey(other.publicBase64, 'other')]),
      (error: BvEdgeError) =>
        error.code === 'signature_unknown_key' && error.message.includes(signer.keyId),
    );
    const changed = new TextEncoder().encode('{"version":"2"}');
    assert.throws(
      () => verifyManifest(changed, signature, [trusted]),
      (error: BvEdgeError) => error.code === 'signature_invalid',
    );
    const bytes = Buffer.from(signature.signature, 'base64');
    bytes[0] = bytes[0]! ^ 0xff;
    const corrupt = { ...signature, signature: bytes.toString('base64') };
    assert.throws(
      () => verifyManifest(manifest, corrupt, [trusted]),
      (error: BvEdgeError) => error.code === 'signature_invalid',
    );
  });
});

/** A manager over a fresh data folder with the small bundle 0.0.1 as the configured one. */
interface Device {
  manager: ModelManager;
  store: Store;
  events: { type: ModelEventType; data: Record<string, unknown> }[];
  dataDir: string;
  close(): Promise<void>;
}

async function openDevice(
  modelDir: string,
  keys: SigningKey[],
  options: { dataDir?: string; healthGateInferences?: number; minFreeMb?: number } = {},
): Promise<Device> {
  const dataDir = options.dataDir ?? tempDir('data');
  const config = otaConfig({
    dataDir,
    modelDir,
    trustedKeys: keys.map((key) => key.publicBase64),
    ...(options.healthGateInferences !== undefined && {
      healthGateInferences: options.healthGateInferences,
    }),
    ...(options.minFreeMb !== undefined && { minFreeMb: options.minFreeMb }),
  });
  const store = openDatabase(join(dataDir, 'bv-edge.sqlite'), logger);
  const manager = new ModelManager({ config, store, logger });
  await manager.open();
  const events: Device['events'] = [];
  manager.events.on((type, data) => events.push({ type, data }));
  return {
    manager,
    store,
    events,
    dataDir,
    close: async () => {
      await manager.close();
      store.close();
    },
  };
}

function nextEvent(device: Device, type: ModelEventType): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const off = device.manager.events.on((seen, data) => {
      if (seen !== type) return;
      off();
      resolve(data);
    });
  });
}

describe('install', () => {
  const signer = newSigningKey();
  const stranger = newSigningKey();
  let configuredDir: string;
  let goodArchive: Uint8Array;

  before(async () => {
    configuredDir = tempDir('configured');
    await buildOtaBundle(configuredDir, { version: '0.0.1' });
    const goodDir = tempDir('good');
    await buildOtaBundle(goodDir, { version: '0.0.2' });
    goodArchive = await packBundle(goodDir, signer.privateKey);
  });

  test('good bundle installs', async () => {
    const device = await openDevice(configuredDir, [signer]);
    try {
      const outcome = await device.manager.installBytes(goodArchive, 'file', {
        actor: 'tester',
        activate: false,
      });
      assert.equal(outcome.version, '0.0.2');
      assert.equal(outcome.keyId, signer.keyId);
      assert.equal(outcome.activation, 'none');
      assert.equal(outcome.alreadyInstalled, false);
      const dir = device.manager.bundleStore.versionDir('0.0.2');
      assert.ok(existsSync(join(dir, MANIFEST_FILE)), 'the bundle is in versions/0.0.2');
      assert.equal(
        device.manager.bundles().active?.version,
        '0.0.1',
        'installing does not activate',
      );
      const [row] = device.store.db.select().from(modelInstalls).all();
      assert.equal(row?.state, 'installed');
      const audit = device.store.db.select().from(auditLog).all();
      assert.deepEqual(
        audit.map((entry) => entry.action),
        ['model.install'],
      );
      assert.equal(audit[0]!.caseId, null);
      assert.deepEqual(
        device.events.map((event) => event.type),
        [
          'model-install-started',
          'model-install-step',
          'model-install-step',
          'model-install-step',
          'model-installed',
        ],
      );
      const again = await device.manager.installBytes(goodArchive, 'file', {
        actor: 'tester',
        activate: false,
      });
      assert.equal(again.alreadyInstalled, true);
    } finally {
      await device.close();
    }
  });

  test('bad bundles rejected with reason', async () => {
    const device = await openDevice(configuredDir, [signer]);
    const archive = readArchive(goodArchive, MAX_BYTES);
    const entries = (manifest: Uint8Array, signature: unknown, files: Map<string, Uint8Array>) =>
      gzipSync(
        writeTar([
          { name: MANIFEST_FILE, data: manifest },
          ...(signature
            ? [{ name: 'manifest.sig', data: new TextEncoder().encode(JSON.stringify(signature)) }]
            : []),
          ...[...files].map(([name, data]) => ({ name, data })),
        ]),
      );
    const tamperedManifest = new TextEncoder().encode(
      new TextDecoder().decode(archive.manifestBytes).replace('Test fixture.', 'Test fixture!'),
    );
    const changedFile = new Map(archive.files);
    const [firstName, firstData] = [...changedFile][0]!;
    changedFile.set(firstName, Uint8Array.from(firstData).fill(0, 0, 8));

    const incompatibleDir = tempDir('incompatible');
    await buildOtaBundle(incompatibleDir, { version: '0.0.3', requires: { daemon: '>=99.0.0' } });
    const gpuOnlyDir = tempDir('gpu-only');
    await buildOtaBundle(gpuOnlyDir, { version: '0.0.4', requires: { providers: ['tensorrt'] } });
    const failingDir = tempDir('failing');
    await buildOtaBundle(failingDir, { version: '0.0.5', nanView: 'ivc' });
    const unsignedDir = tempDir('unsigned');
    await buildOtaBundle(unsignedDir, { version: '0.0.6' });
    const narrowDir = tempDir('narrow-range');
    const narrowMax = await buildOutOfRangeBundle(narrowDir, '0.0.7');

    const cases: [string, Uint8Array, string, RegExp][] = [
      [
        'bad signature',
        entries(tamperedManifest, archive.signature, archive.files),
        'signature_invalid',
        /does not verify/,
      ],
      [
        'unknown key',
        await packBundle(unsignedDir, stranger.privateKey),
        'signature_unknown_key',
        new RegExp(stranger.keyId),
      ],
      ['unsigned', await packBundle(unsignedDir), 'bundle_unsigned', /no signature/],
      [
        'wrong checksum',
        entries(archive.manifestBytes, archive.signature, changedFile),
        'model_checksum_mismatch',
        new RegExp(firstName),
      ],
      [
        'incompatible daemon',
        await packBundle(incompatibleDir, signer.privateKey),
        'bundle_incompatible',
        /requires bv-edge >=99\.0\.0/,
      ],
      [
        'incompatible provider',
        await packBundle(gpuOnlyDir, signer.privateKey),
        'bundle_incompatible',
        /runs on tensorrt/,
      ],
      [
        'failing test vector',
        await packBundle(failingDir, signer.privateKey),
        'test_vector_failed',
        /NaN/,
      ],
      [
        'test-vector estimate outside the plausible range',
        await packBundle(narrowDir, signer.privateKey),
        'bundle_invalid',
        new RegExp(
          `manifest\\.json: field plausibleRangeMl: found \\[1, ${narrowMax}\\] mL; ` +
            'expected a range that contains [\\d.]+ mL, the fusion\\.expected\\.bvMl',
        ),
      ],
      ['not gzip', new TextEncoder().encode('not an archive'), 'archive_invalid', /not gzip/],
      [
        'truncated gzip',
        goodArchive.subarray(0, Math.floor(goodArchive.length / 2)),
        'archive_invalid',
        /truncated archive/,
      ],
      [
        'extra file',
        entries(
          archive.manifestBytes,
          archive.signature,
          new Map([...archive.files, ['extra.bin', new Uint8Array(4)]]),
        ),
        'archive_invalid',
        /extra\.bin/,
      ],
    ];
    try {
      for (const [label, bytes, code, message] of cases) {
        await assertRejects(
          device.manager.installBytes(bytes, 'file', { actor: 'tester', activate: true }),
          code,
          message,
        );
        assert.equal(
          device.manager.bundles().active?.version,
          '0.0.1',
          `${label}: old bundle stays active`,
        );
      }
      assert.deepEqual(
        await device.manager.bundleStore.installedVersions(),
        [],
        'nothing installed',
      );
      const rows = device.store.db.select().from(modelInstalls).all();
      assert.deepEqual(
        rows.map((row) => row.reasonCode),
        cases.map(([, , code]) => code),
      );
      const rejects = device.store.db.select().from(auditLog).all();
      assert.equal(rejects.length, cases.length);
      assert.ok(
        rejects.every((entry) => entry.action === 'model.reject'),
        'each rejection is audited',
      );
      const rejected = device.events.filter((event) => event.type === 'model-rejected');
      assert.equal(rejected.length, cases.length);
      const leftovers = readdirSync(device.manager.bundleStore.dir).filter((name) =>
        name.startsWith('.'),
      );
      assert.deepEqual(leftovers, [], 'no staging folder is left behind');
    } finally {
      await device.close();
    }
  });

  test('free space limit', async () => {
    const device = await openDevice(configuredDir, [signer], { minFreeMb: 2 ** 30 });
    try {
      await assertRejects(
        device.manager.installBytes(goodArchive, 'file', { actor: 'tester', activate: false }),
        'insufficient_space',
        /models\.minFreeMb/,
      );
    } finally {
      await device.close();
    }
  });

  test('gzip bomb limited', () => {
    const bomb = gzipSync(new Uint8Array(4 * 2 ** 20));
    assert.throws(() => readArchive(bomb, 2 ** 20), /models\.maxBundleMb/);
  });

  test('sign replaces the signature', async () => {
    const resigned = signArchive(goodArchive, stranger.privateKey, MAX_BYTES);
    const archive = readArchive(resigned, MAX_BYTES);
    assert.equal(archive.signature?.keyId, stranger.keyId);
    assert.deepEqual(archive.manifestBytes, readArchive(goodArchive, MAX_BYTES).manifestBytes);
    const names = readTar(gunzipSync(resigned)).map((entry) => entry.name);
    assert.equal(names.filter((name) => name === 'manifest.sig').length, 1);
  });
});

describe('activation', () => {
  const signer = newSigningKey();
  const source = new FileFrameSource();
  let configuredDir: string;
  let good: Uint8Array;
  let liveNan: Uint8Array;

  before(async () => {
    configuredDir = tempDir('configured');
    await buildOtaBundle(configuredDir, { version: '0.0.1' });
    const goodDir = tempDir('good');
    await buildOtaBundle(goodDir, { version: '0.0.2' });
    good = await packBundle(goodDir, signer.privateKey);
    const nanDir = tempDir('live-nan');
    await buildOtaBundle(nanDir, { version: '0.0.3', nanOnBrightIjv: true });
    liveNan = await packBundle(nanDir, signer.privateKey);
  });

  /** Opens a device with a workflow on the configured bundle, wired as the daemon wires them. */
  async function openWorkflowDevice(dataDir?: string) {
    const device = await openDevice(configuredDir, [signer], {
      healthGateInferences: 2,
      ...(dataDir !== undefined && { dataDir }),
    });
    const engine = await device.manager.loadStartEngine();
    const workflow = new WorkflowService({
      store: device.store,
      engine,
      source,
      settings: WorkflowSettingsSchema.parse({}),
      estimateTopic: 'bv-edge/v1/test/cart/estimates',
      logger,
    });
    await workflow.start();
    device.manager.attach(workflow);
    return {
      device,
      workflow,
      async close() {
        await workflow.stop();
        await device.close();
        await workflow.engine.close();
      },
    };
  }

  test('waits for the open case', async () => {
    const { device, workflow, close } = await openWorkflowDevice();
    try {
      await workflow.openCase({ caseId: 'ota-case-1', heightCm: 170, weightKg: 70, sex: 'male' });
      const activated = nextEvent(device, 'model-activated');
      const waiting = nextEvent(device, 'model-activation-waiting');
      const outcome = await device.manager.installBytes(good, 'chunks', {
        actor: 'fleet:test',
        activate: true,
      });
      assert.equal(outcome.activation, 'waiting-for-case');
      assert.equal((await waiting).version, '0.0.2');
      assert.equal(workflow.engine.manifest.version, '0.0.1', 'the open case keeps its engine');
      assert.equal(device.manager.bundles().active?.version, '0.0.1');

      await workflow.abandonCase();
      const event = await activated;
      assert.equal(event.version, '0.0.2');
      assert.equal(workflow.engine.manifest.version, '0.0.2', 'the next case uses the new bundle');
      assert.equal(device.manager.bundles().active?.version, '0.0.2');
      assert.equal(device.manager.bundles().previous?.version, '0.0.1');
      assert.equal(device.manager.bundles().gate, 'pending');

      const passed = nextEvent(device, 'model-health-passed');
      const clip = new Float32Array(8 * 16 * 16).fill(0.3);
      await workflow.engine.runView('ijv', clip);
      await workflow.engine.runView('ca', clip);
      assert.equal((await passed).inferences, 2);
      assert.equal(device.manager.bundles().gate, 'passed');
      const actions = device.store.db
        .select()
        .from(auditLog)
        .all()
        .map((entry) => entry.action);
      assert.deepEqual(actions, ['model.install', 'model.activate']);
    } finally {
      await close();
    }
  });

  test('health gate rolls back', async () => {
    const { device, workflow, close } = await openWorkflowDevice();
    try {
      const outcome = await device.manager.installBytes(liveNan, 'url', {
        actor: 'fleet:test',
        activate: true,
      });
      assert.equal(outcome.activation, 'activated', 'the test vector passes at install');
      assert.equal(workflow.engine.manifest.version, '0.0.3');
      const rolledBack = nextEvent(device, 'model-rolled-back');
      const dim = new Float32Array(8 * 16 * 16).fill(0.3);
      await workflow.engine.runView('ijv', dim);
      const bright = new Float32Array(8 * 16 * 16).fill(1);
      await assertRejects(workflow.engine.runView('ijv', bright), 'model_output_invalid');
      const event = await rolledBack;
      assert.match(String(event.reason), /health gate failed for 0\.0\.3.*non-finite/);
      await device.manager.pending;
      assert.equal(workflow.engine.manifest.version, '0.0.1', 'the previous bundle serves again');
      assert.equal(device.manager.bundles().active?.version, '0.0.1');
      assert.equal(device.manager.bundles().previous?.version, '0.0.3');
      const failed = device.events.find((seen) => seen.type === 'model-health-failed');
      assert.equal(failed?.data.code, 'model_output_invalid');
      const audit = device.store.db.select().from(auditLog).all();
      const rollback = audit.find((entry) => entry.action === 'model.rollback');
      assert.equal(rollback?.actor, 'bv-edge');
    } finally {
      await close();
    }
  });

  test('manual activate and rollback', async () => {
    const { device, workflow, close } = await openWorkflowDevice();
    try {
      await device.manager.installBytes(good, 'file', { actor: 'tester', activate: false });
      await assertRejects(
        device.manager.activate('9.9.9', 'tester'),
        'bundle_not_installed',
        /installed: 0\.0\.2/,
      );
      await assertRejects(device.manager.rollback('tester', 'test'), 'no_previous_bundle');
      const result = await device.manager.activate('0.0.2', 'tester');
      assert.deepEqual(result, {
        active: '0.0.2',
        previous: 'the configured modelDir bundle',
        unchanged: false,
        live: true,
      });
      assert.equal((await device.manager.activate('0.0.2', 'tester')).unchanged, true);
      const back = await device.manager.rollback('tester', 'engineer request');
      assert.equal(back.active, 'the configured modelDir bundle');
      assert.equal(workflow.engine.manifest.version, '0.0.1');
      assert.equal(device.manager.bundles().active?.source, 'configured');
    } finally {
      await close();
    }
  });

  test('pending gate resumes at start', async () => {
    const first = await openWorkflowDevice();
    const dataDir = first.device.dataDir;
    await first.device.manager.installBytes(liveNan, 'file', { actor: 'tester', activate: true });
    assert.equal(first.device.manager.bundles().gate, 'pending');
    await first.close();

    const second = await openWorkflowDevice(dataDir);
    try {
      assert.equal(
        second.workflow.engine.manifest.version,
        '0.0.3',
        'the active bundle loads at start',
      );
      const rolledBack = nextEvent(second.device, 'model-rolled-back');
      await assertRejects(
        second.workflow.engine.runView('ijv', new Float32Array(8 * 16 * 16).fill(1)),
        'model_output_invalid',
      );
      await rolledBack;
      await second.device.manager.pending;
      assert.equal(second.workflow.engine.manifest.version, '0.0.1');
    } finally {
      await second.close();
    }
  });

  test('rollback keeps a pending gate', async () => {
    const offline = await openDevice(configuredDir, [signer]);
    const dataDir = offline.dataDir;
    try {
      await offline.manager.installBytes(good, 'file', { actor: 'tester', activate: false });
      await offline.manager.activate('0.0.2', 'tester');
      assert.equal(offline.manager.bundles().gate, 'pending');
      await offline.manager.rollback('tester', 'first rollback');
      assert.equal(offline.manager.bundles().active?.source, 'configured');
      assert.equal(offline.manager.bundles().gate, 'passed');
      await offline.manager.rollback('tester', 'second rollback');
      assert.equal(offline.manager.bundles().active?.version, '0.0.2');
      assert.equal(offline.manager.bundles().gate, 'pending', 'the gate never passed');
    } finally {
      await offline.close();
    }

    const restarted = await openWorkflowDevice(dataDir);
    try {
      assert.equal(restarted.device.manager.bundles().gate, 'pending', 'pending after restart');
      assert.equal(restarted.workflow.engine.manifest.version, '0.0.2');
      const passed = nextEvent(restarted.device, 'model-health-passed');
      const clip = new Float32Array(8 * 16 * 16).fill(0.3);
      await restarted.workflow.engine.runView('ijv', clip);
      await restarted.workflow.engine.runView('ca', clip);
      assert.equal((await passed).version, '0.0.2');
      assert.equal(restarted.device.manager.bundles().gate, 'passed');
    } finally {
      await restarted.close();
    }
  });

  test('live rollback gates a pending bundle', async () => {
    const { device, workflow, close } = await openWorkflowDevice();
    try {
      await device.manager.installBytes(liveNan, 'file', { actor: 'tester', activate: true });
      assert.equal(workflow.engine.manifest.version, '0.0.3');
      await device.manager.rollback('tester', 'engineer request');
      await device.manager.rollback('tester', 'engineer request again');
      assert.equal(workflow.engine.manifest.version, '0.0.3');
      assert.equal(device.manager.bundles().gate, 'pending');
      const rolledBack = nextEvent(device, 'model-rolled-back');
      await assertRejects(
        workflow.engine.runView('ijv', new Float32Array(8 * 16 * 16).fill(1)),
        'model_output_invalid',
      );
      assert.match(String((await rolledBack).reason), /health gate failed for 0\.0\.3/);
      await device.manager.pending;
      assert.equal(workflow.engine.manifest.version, '0.0.1');
      assert.equal(device.manager.bundles().gate, 'passed');
    } finally {
      await close();
    }
  });

  test('broken active bundle falls back', async () => {
    const first = await openWorkflowDevice();
    const dataDir = first.device.dataDir;
    await first.device.manager.installBytes(good, 'file', { actor: 'tester', activate: true });
    const dir = first.device.manager.bundleStore.versionDir('0.0.2');
    await first.close();
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as {
      fusion: { file: string };
    };
    rmSync(join(dir, manifest.fusion.file));

    const second = await openWorkflowDevice(dataDir);
    try {
      assert.equal(second.workflow.engine.manifest.version, '0.0.1', 'the previous bundle serves');
      assert.equal(second.device.manager.bundles().active?.source, 'configured');
      const audit = second.device.store.db.select().from(auditLog).all();
      assert.equal(audit.at(-1)?.action, 'model.rollback');
      assert.match(JSON.stringify(audit.at(-1)?.after), /failed to load/);
    } finally {
      await second.close();
    }
  });
});

describe('health gate', () => {
  test('names an out-of-range test vector', async () => {
    const dir = tempDir('gate-range');
    const max = await buildOutOfRangeBundle(dir, '0.0.8');
    const engine = await InferenceEngine.create(await loadBundle(dir), {
      providers: ['cpu'],
      logger,
    });
    try {
      const gate = new HealthGate(engine, 2);
      const reason = await gate.runTestVector();
      assert.match(
        String(reason),
        new RegExp(
          `^the test vector's estimate is outside the plausible range: manifest\\.json: ` +
            `field plausibleRangeMl: found \\[1, ${max}\\] mL; expected a range that contains`,
        ),
      );
      const result = await gate.result;
      assert.equal(result.passed, false, 'the gate fails');
      assert.equal(result.passed ? null : result.code, 'test_vector_failed');
    } finally {
      await engine.close();
    }
  });
});
