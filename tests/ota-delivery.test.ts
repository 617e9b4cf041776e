import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { connectAsync, type MqttClient } from 'mqtt';

import { BvEdgeError } from '../src/core/errors.ts';
import { silentLogger } from '../src/core/log.ts';
import { Daemon } from '../src/daemon.ts';
import { ModelManager, packBundle, type ModelEventType } from '../src/ota/index.ts';
import { handleChunk, handleInstall } from '../src/ota/commands.ts';
import type { RequestContext } from '../src/fleet/index.ts';
import { openDatabase, type Store } from '../src/store/index.ts';
import { auditLog, modelInstalls, modelTransfers } from '../src/store/schema.ts';
import { WorkflowSettingsSchema } from '../src/workflow/settings.ts';
import { buildOtaBundle, newSigningKey, otaConfig } from './fixtures/ota-bundles.ts';
import { repoRoot } from './helpers/data.ts';
import { FileFrameSource } from './helpers/file-frame-source.ts';
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from './helpers/mosquitto.ts';

const logger = silentLogger();
const tempDirs: string[] = [];
const signer = newSigningKey();
let configuredDir: string;
let goodArchive: Buffer;
let goodSha256: string;

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bv-edge-ota-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

before(async () => {
  configuredDir = tempDir('configured');
  await buildOtaBundle(configuredDir, { version: '0.0.1' });
  const goodDir = tempDir('good');
  await buildOtaBundle(goodDir, { version: '0.0.2' });
  goodArchive = Buffer.from(await packBundle(goodDir, signer.privateKey));
  goodSha256 = sha256(goodArchive);
});

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

interface Device {
  manager: ModelManager;
  store: Store;
  close(): Promise<void>;
}

async function openDevice(dataDir: string, caFile?: string): Promise<Device> {
  const config = otaConfig({
    dataDir,
    modelDir: configuredDir,
    trustedKeys: [signer.publicBase64],
    ...(caFile !== undefined && { downloadCaFile: caFile }),
  });
  const store = openDatabase(join(dataDir, 'bv-edge.sqlite'), logger);
  const manager = new ModelManager({ config, store, logger });
  await manager.open();
  return {
    manager,
    store,
    close: async () => {
      await manager.close();
      store.close();
    },
  };
}

describe('https download', () => {
  let server: Server;
  let base: string;
  let caFile: string;

  before(async () => {
    const dir = tempDir('tls');
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=bv-edge test CA',
    ]);
    run([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    ]);
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    run([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '1',
      '-extfile',
      'ext.cnf',
    ]);
    caFile = join(dir, 'ca.pem');
    server = createServer(
      { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) },
      (request, response) => {
        if (request.url === '/bundle.tar.gz') {
          response.writeHead(200, { 'content-type': 'application/gzip' });
          response.end(goodArchive);
        } else if (request.url === '/moved') {
          response.writeHead(302, { location: '/bundle.tar.gz' });
          response.end();
        } else {
          response.writeHead(404);
          response.end();
        }
      },
    );
    server.listen(0, '127.0.0.1');
    await new Promise((resolvePromise) => server.once('listening', resolvePromise));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolvePromise) => server.close(resolvePromise));
  });

  test('download with expected sha256', async () => {
    const device = await openDevice(tempDir('data'), caFile);
    try {
      const outcome = await device.manager.installUrl(`${base}/bundle.tar.gz`, goodSha256, {
        actor: 'fleet:test',
        activate: false,
      });
      assert.equal(outcome.version, '0.0.2');
      assert.equal(outcome.archiveSha256, goodSha256);
      const [row] = device.store.db.select().from(modelInstalls).all();
      assert.equal(row?.source, 'url');
      assert.equal(row?.state, 'installed');
    } finally {
      await device.close();
    }
  });

  test('download failures rejected', async () => {
    const device = await openDevice(tempDir('data'), caFile);
    const untrusting = await openDevice(tempDir('data'));
    const request = { actor: 'fleet:test', activate: false };
    try {
      await assertRejects(
        device.manager.installUrl(`${base}/bundle.tar.gz`, '0'.repeat(64), request),
        'archive_checksum_mismatch',
        new RegExp(`sha256 ${goodSha256}`),
      );
      await assertRejects(
        device.manager.installUrl(
          `${base.replace('https', 'http')}/bundle.tar.gz`,
          goodSha256,
          request,
        ),
        'download_url_invalid',
        /only https/,
      );
      await assertRejects(
        device.manager.installUrl(`${base}/missing`, goodSha256, request),
        'download_failed',
        /HTTP 404/,
      );
      await assertRejects(
        device.manager.installUrl(`${base}/moved`, goodSha256, request),
        'download_failed',
        /HTTP 302 to \/bundle\.tar\.gz/,
      );
      await assertRejects(
        untrusting.manager.installUrl(`${base}/bundle.tar.gz`, goodSha256, request),
        'download_failed',
        /certificate/,
      );
      await assertRejects(
        device.manager.installUrl(base.replace('//', '//user:secret@'), goodSha256, request),
        'download_url_invalid',
        /user name or password/,
      );
      const codes = device.store.db
        .select()
        .from(modelInstalls)
        .all()
        .map((row) => row.reasonCode);
      assert.deepEqual(codes, [
        'archive_checksum_mismatch',
        'download_url_invalid',
        'download_failed',
        'download_failed',
        'download_url_invalid',
      ]);
      assert.equal(device.manager.bundles().active?.source, 'configured');
    } finally {
      await device.close();
      await untrusting.close();
    }
  });
});

const context: RequestContext = {
  transactionId: 't-1',
  client: 'engineer@test',
  command: 'model-chunk',
  logger,
};

/** fleet.maxRequestBytes at its maximum, which allows chunks of up to 785,664 bytes. */
const maxRequestBytes = () => 1_048_576;

function chunkOf(archive: Buffer, index: number, size: number): string {
  return archive.subarray(index * size, (index + 1) * size).toString('base64');
}

describe('chunked transfer', () => {
  const chunkSize = 1024;

  test('resumes after a restart', async () => {
    const dataDir = tempDir('data');
    const count = Math.ceil(goodArchive.length / chunkSize);
    assert.ok(count >= 4, `the archive needs at least 4 chunks, has ${count}`);
    const transfer = { id: 'tx-1', size: goodArchive.length, sha256: goodSha256, chunkSize };
    let device = await openDevice(dataDir);
    try {
      const started = (await handleInstall(
        device.manager,
        { transfer, activate: false },
        context,
        maxRequestBytes,
      )) as Record<string, unknown>;
      assert.deepEqual(
        { resumed: started.resumed, nextIndex: started.nextIndex, chunkCount: started.chunkCount },
        { resumed: false, nextIndex: 0, chunkCount: count },
      );
      for (const index of [0, 1]) {
        const ack = (await handleChunk(device.manager, {
          transferId: 'tx-1',
          index,
          data: chunkOf(goodArchive, index, chunkSize),
        })) as Record<string, unknown>;
        assert.equal(ack.nextIndex, index + 1);
      }
      const truncated = goodArchive.subarray(2 * chunkSize, 2 * chunkSize + 100).toString('base64');
      await assertRejects(
        handleChunk(device.manager, { transferId: 'tx-1', index: 2, data: truncated }),
        'chunk_truncated',
        /Chunk 2 of transfer tx-1 has 100 bytes; expected 1024/,
      );
      await assertRejects(
        handleChunk(device.manager, {
          transferId: 'tx-1',
          index: 3,
          data: chunkOf(goodArchive, 3, chunkSize),
        }),
        'chunk_out_of_order',
        /send chunk 2/,
      );
      await assertRejects(
        handleChunk(device.manager, {
          transferId: 'tx-1',
          index: 2,
          data: chunkOf(goodArchive, 2, chunkSize),
          sha256: '1'.repeat(64),
        }),
        'chunk_checksum_mismatch',
      );
      const duplicate = (await handleChunk(device.manager, {
        transferId: 'tx-1',
        index: 1,
        data: chunkOf(goodArchive, 1, chunkSize),
      })) as Record<string, unknown>;
      assert.equal(duplicate.nextIndex, 2, 'a repeated chunk is acknowledged once more');
    } finally {
      await device.close();
    }

    // A write that a kill cut short leaves bytes beyond the stored progress; start-up trims them.
    const part = join(dataDir, 'models', 'incoming', 'tx-1.part');
    appendFileSync(part, Buffer.alloc(1000, 7));
    writeFileSync(join(dataDir, 'models', 'incoming', 'stray.part'), 'x');
    device = await openDevice(dataDir);
    try {
      assert.equal(statSync(part).size, 2 * chunkSize, 'the part file is cut to the stored chunks');
      assert.ok(
        !existsSync(join(dataDir, 'models', 'incoming', 'stray.part')),
        'a file without a transfer is removed',
      );
      const resumed = (await handleInstall(
        device.manager,
        { transfer, activate: false },
        context,
        maxRequestBytes,
      )) as Record<string, unknown>;
      assert.equal(resumed.resumed, true);
      assert.equal(resumed.nextIndex, 2);
      let last: Record<string, unknown> = {};
      for (let index = 2; index < count; index++) {
        last = (await handleChunk(device.manager, {
          transferId: 'tx-1',
          index,
          data: chunkOf(goodArchive, index, chunkSize),
        })) as Record<string, unknown>;
      }
      const install = last.install as Record<string, unknown>;
      assert.equal(install.version, '0.0.2');
      assert.equal(install.activation, 'none');
      assert.equal(
        device.store.db.select().from(modelTransfers).all().length,
        0,
        'the transfer is done',
      );
      assert.ok(!existsSync(part), 'its part file is removed');
    } finally {
      await device.close();
    }
  });

  test('chunk size over request limit rejected', async () => {
    const dataDir = tempDir('data');
    const device = await openDevice(dataDir);
    try {
      const transfer = { id: 'tx-big', size: goodArchive.length, sha256: goodSha256, chunkSize };
      await assertRejects(
        handleInstall(
          device.manager,
          { transfer: { ...transfer, chunkSize: 65_536 }, activate: false },
          context,
          () => 65_536,
        ),
        'chunk_size_too_large',
        /fleet\.maxRequestBytes \(65536\), so chunks may have at most 48384 bytes/,
      );
      assert.equal(device.store.db.select().from(modelTransfers).all().length, 0);
      await handleInstall(device.manager, { transfer, activate: false }, context, () => 65_536);
      const part = join(dataDir, 'models', 'incoming', 'tx-big.part');
      assert.ok(existsSync(part), 'the transfer has a part file');
      await assertRejects(
        handleChunk(device.manager, { transferId: 'tx-big', index: 0, data: 'not*base64!' }),
        'chunk_invalid',
        /Chunk 0 of transfer tx-big is not valid base64/,
      );
      const cancelled = (await device.manager.transfers.cancel('tx-big', 'tester')) as Record<
        string,
        unknown
      >;
      assert.equal(cancelled.cancelled, true);
      assert.ok(!existsSync(part), 'cancel removes the part file');
      assert.equal(device.store.db.select().from(modelTransfers).all().length, 0);
      await assertRejects(
        device.manager.transfers.cancel('tx-big', 'tester'),
        'transfer_not_found',
      );
    } finally {
      await device.close();
    }
  });

  test('wrong total checksum rejected', async () => {
    const device = await openDevice(tempDir('data'));
    try {
      const transfer = {
        id: 'tx-bad',
        size: goodArchive.length,
        sha256: '2'.repeat(64),
        chunkSize: 65536,
      };
      await handleInstall(device.manager, { transfer, activate: true }, context, maxRequestBytes);
      await assertRejects(
        handleChunk(device.manager, {
          transferId: 'tx-bad',
          index: 0,
          data: goodArchive.toString('base64'),
        }),
        'archive_checksum_mismatch',
        /discarded/,
      );
      const [row] = device.store.db.select().from(modelInstalls).all();
      assert.equal(row?.reasonCode, 'archive_checksum_mismatch');
      assert.equal(device.store.db.select().from(modelTransfers).all().length, 0);
      await assertRejects(
        handleChunk(device.manager, { transferId: 'tx-bad', index: 1, data: '' }),
        'transfer_not_found',
      );
      assert.equal(device.manager.bundles().active?.source, 'configured');
    } finally {
      await device.close();
    }
  });
});

describe('kill -9 during install', () => {
  test('restart keeps the old bundle', async () => {
    const dataDir = tempDir('data');
    const slowDir = tempDir('slow');
    // The slow view model keeps validation busy long enough to kill the process in it.
    await buildOtaBundle(slowDir, { version: '0.0.7', slowView: 'ijv' });
    const archivePath = join(tempDir('archive'), 'slow.tar.gz');
    writeFileSync(archivePath, await packBundle(slowDir, signer.privateKey));
    const configPath = join(dataDir, 'config.yaml');
    writeFileSync(
      configPath,
      JSON.stringify({
        dataDir,
        modelDir: configuredDir,
        providers: ['cpu'],
        models: { trustedKeys: [signer.publicBase64] },
      }),
    );
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        resolve(repoRoot, 'src/cli.ts'),
        'model',
        'install',
        archivePath,
        '--activate',
        '--config',
        configPath,
      ],
      { cwd: repoRoot, stdio: 'ignore' },
    );
    const bundlesDir = join(dataDir, 'models');
    const staged = (): string | undefined =>
      existsSync(bundlesDir)
        ? readdirSync(bundlesDir).find(
            (name) =>
              name.startsWith('.staging-') && existsSync(join(bundlesDir, name, 'manifest.json')),
          )
        : undefined;
    const deadline = Date.now() + 60_000;
    while (!staged() && child.exitCode === null && Date.now() < deadline) await delay(5);
    assert.ok(staged(), 'the install reached its staging folder before the kill');
    const exited = new Promise((resolvePromise) => child.once('exit', resolvePromise));
    child.kill('SIGKILL');
    await exited;
    assert.equal(child.signalCode, 'SIGKILL');

    const device = await openDevice(dataDir);
    try {
      assert.deepEqual(
        readdirSync(bundlesDir).filter((name) => name.startsWith('.')),
        [],
        'partial files are gone',
      );
      assert.deepEqual(await device.manager.bundleStore.installedVersions(), []);
      assert.equal(
        device.manager.bundles().active?.version,
        '0.0.1',
        'the old bundle stays active',
      );
      const [row] = device.store.db.select().from(modelInstalls).all();
      assert.equal(row?.state, 'rejected');
      assert.equal(row?.reasonCode, 'install_interrupted');
    } finally {
      await device.close();
    }
  });
});

describe('daemon over MQTT', { skip: mosquittoSkipReason }, () => {
  let broker: Mosquitto;
  let daemon: Daemon;
  let client: MqttClient;
  const source = new FileFrameSource();
  const dataDir = mkdtempSync(join(tmpdir(), 'bv-edge-ota-daemon-'));
  const base = 'bv-edge/v1/site-ota/cart-ota/';
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const responses = new Map<string, Record<string, unknown>>();

  before(async () => {
    broker = await startMosquitto();
    const config = otaConfig({
      dataDir,
      modelDir: configuredDir,
      trustedKeys: [signer.publicBase64],
      healthGateInferences: 1,
      extra: {
        mqtt: { url: broker.url, site: 'site-ota', device: 'cart-ota' },
        fleet: { enabled: true },
      },
    });
    daemon = new Daemon({
      config,
      workflow: WorkflowSettingsSchema.parse({}),
      http: { host: '127.0.0.1', port: 0 },
      frameSource: source,
      logger,
    });
    await daemon.start();
    client = await connectAsync(broker.url, { clientId: 'ota-test-engineer' });
    client.on('message', (topic, payload) => {
      const body = JSON.parse(payload.toString()) as Record<string, unknown>;
      if (topic === `${base}events`) events.push(body as (typeof events)[number]);
      else responses.set(String(body.transactionId), body);
    });
    await client.subscribeAsync([`${base}events`, `${base}response/+`], { qos: 1 });
  });

  after(async () => {
    await client?.endAsync();
    await daemon?.stop();
    await broker?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  let counter = 0;
  async function request(command: string, params: unknown): Promise<Record<string, unknown>> {
    const transactionId = `ota-${++counter}`;
    await client.publishAsync(
      `${base}request/${command}`,
      JSON.stringify({ transactionId, client: 'engineer@test', params }),
      { qos: 1 },
    );
    const deadline = Date.now() + 60_000;
    while (!responses.has(transactionId) && Date.now() < deadline) await delay(10);
    const response = responses.get(transactionId);
    assert.ok(response, `no response to ${command} ${transactionId}`);
    return response;
  }

  async function waitForEvent(type: ModelEventType): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const found = events.find((event) => event.type === type);
      if (found) return found.data;
      assert.ok(
        Date.now() < deadline,
        `no ${type} event; got ${events.map((event) => event.type).join(', ')}`,
      );
      await delay(20);
    }
  }

  test('chunked install activates', async () => {
    const chunkSize = 1024;
    const count = Math.ceil(goodArchive.length / chunkSize);
    const transfer = { id: 'mqtt-1', size: goodArchive.length, sha256: goodSha256, chunkSize };
    await daemon.workflow.openCase({
      caseId: 'ota-mqtt-1',
      heightCm: 170,
      weightKg: 70,
      sex: 'male',
    });
    const started = await request('model-install', { transfer });
    assert.equal(started.status, 'ok', JSON.stringify(started.error));
    const truncated = await request('model-chunk', {
      transferId: 'mqtt-1',
      index: 0,
      data: goodArchive.subarray(0, 10).toString('base64'),
    });
    assert.equal(truncated.status, 'error');
    assert.equal((truncated.error as { code: string }).code, 'chunk_truncated');

    // The engineer's client drops off after the first chunk and comes back.
    assert.equal(
      (
        await request('model-chunk', {
          transferId: 'mqtt-1',
          index: 0,
          data: chunkOf(goodArchive, 0, chunkSize),
        })
      ).status,
      'ok',
    );
    await client.endAsync();
    client = await connectAsync(broker.url, { clientId: 'ota-test-engineer-2' });
    client.on('message', (topic, payload) => {
      const body = JSON.parse(payload.toString()) as Record<string, unknown>;
      if (topic === `${base}events`) events.push(body as (typeof events)[number]);
      else responses.set(String(body.transactionId), body);
    });
    await client.subscribeAsync([`${base}events`, `${base}response/+`], { qos: 1 });
    const resumed = await request('model-install', { transfer });
    assert.equal(
      (resumed.data as { nextIndex: number }).nextIndex,
      1,
      'the transfer resumes at chunk 1',
    );

    let last: Record<string, unknown> = {};
    for (let index = 1; index < count; index++) {
      last = await request('model-chunk', {
        transferId: 'mqtt-1',
        index,
        data: chunkOf(goodArchive, index, chunkSize),
      });
      assert.equal(last.status, 'ok', JSON.stringify(last.error));
    }
    const install = (last.data as { install: Record<string, unknown> }).install;
    assert.equal(install.version, '0.0.2');
    assert.equal(install.activation, 'waiting-for-case');
    await waitForEvent('model-installed');
    await waitForEvent('model-activation-waiting');
    assert.equal(daemon.workflow.engine.manifest.version, '0.0.1', 'the open case keeps its model');

    await daemon.workflow.abandonCase();
    assert.equal((await waitForEvent('model-activated')).version, '0.0.2');
    assert.equal(daemon.workflow.engine.manifest.version, '0.0.2');
    const status = (await (await fetch(`${daemon.url}api/status`)).json()) as {
      bundles: { active: { version: string }; previous: { version: string } };
    };
    assert.equal(status.bundles.active.version, '0.0.2');
    assert.equal(status.bundles.previous.version, '0.0.1');

    const rollback = await request('model-rollback', { reason: 'test' });
    assert.equal(rollback.status, 'ok', JSON.stringify(rollback.error));
    assert.equal((await waitForEvent('model-rolled-back')).to, 'the configured modelDir bundle');
    assert.equal(daemon.workflow.engine.manifest.version, '0.0.1');
    const activate = await request('model-activate', { version: '0.0.2' });
    assert.equal(activate.status, 'ok', JSON.stringify(activate.error));
    assert.equal(daemon.workflow.engine.manifest.version, '0.0.2');
    const missing = await request('model-activate', { version: '7.7.7' });
    assert.equal((missing.error as { code: string }).code, 'bundle_not_installed');

    const store = openDatabase(join(dataDir, 'bv-edge.sqlite'), logger);
    try {
      const actions = store.db
        .select()
        .from(auditLog)
        .all()
        .map((entry) => `${entry.action} ${entry.actor}`);
      assert.ok(actions.includes('model.install fleet:engineer@test'), actions.join('; '));
      assert.ok(actions.includes('model.activate fleet:engineer@test'), actions.join('; '));
      assert.ok(actions.includes('model.rollback fleet:engineer@test'), actions.join('; '));
    } finally {
      store.close();
    }
  });
});
