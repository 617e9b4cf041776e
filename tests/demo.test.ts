import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import type { EstimateMessage } from '../src/mqtt/payload.ts';
import type { ScanRecord } from '../src/scan/types.ts';
import { runCli } from './helpers/cli.ts';
import { repoRoot } from './helpers/data.ts';
import { freePort, mosquittoSkipReason, startMosquitto } from './helpers/mosquitto.ts';

function tempHome(): string {
  return mkdtempSync(join(tmpdir(), 'bv-edge-demo-'));
}

const PATIENT = ['--height-cm', '165', '--weight-kg', '62', '--sex', 'female'];

interface PhantomTruthFile {
  collapsibilityIndex: number;
}

function phantomViews(home: string): string[] {
  return ['ijv', 'scv', 'ivc', 'ca'].flatMap((view) => [
    '--view',
    `${view}=${join(home, 'phantom', `${view}.mp4`)}`,
  ]);
}

test('demo runs end to end', async () => {
  const home = tempHome();
  const result = await runCli(['demo'], { BV_EDGE_HOME: home });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Blood volume estimate: \d+ mL/);
  assert.match(result.stdout, /Published to MQTT broker mqtt:\/\/127\.0\.0\.1:\d+/);
  const marker = result.stdout.indexOf('MQTT message received on ');
  assert.ok(marker >= 0, result.stdout);
  const afterMarker = result.stdout.slice(marker);
  const topic = /received on (\S+):/.exec(afterMarker)![1]!;
  assert.match(topic, /^bv-edge\/v1\/[^/]+\/[^/]+\/estimates$/);
  const message = JSON.parse(afterMarker.slice(afterMarker.indexOf('\n') + 1)) as EstimateMessage;
  assert.match(message.caseId, /^demo-\d+$/);
  assert.equal(message.model.intendedUse, 'reference');
  assert.equal(message.views.length, 4);
  assert.ok(Number.isFinite(message.bloodVolume.value));
  for (const view of ['ijv', 'scv', 'ivc', 'ca']) {
    assert.ok(existsSync(join(home, 'phantom', `${view}.mp4`)), `phantom ${view} clip`);
  }
});

test('demo serves the status page', async () => {
  const home = tempHome();
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', resolve(repoRoot, 'src/cli.ts'), 'demo', '--serve', '--port', `${port}`],
    { cwd: repoRoot, env: { ...process.env, BV_EDGE_HOME: home, BV_EDGE_LOG_LEVEL: 'warn' } },
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  try {
    const deadline = Date.now() + 120_000;
    while (!stdout.includes('Status page on') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(stdout.includes(`Status page on http://127.0.0.1:${port}/`), stdout);
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.match(page, /not for clinical use/i);
    assert.match(page, /mL/);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0);
});

test('phantom collapsibility matches the truth', async () => {
  const home = tempHome();
  const demo = await runCli(['demo'], { BV_EDGE_HOME: home });
  assert.equal(demo.code, 0, demo.stderr);
  const result = await runCli(
    ['scan', ...phantomViews(home), ...PATIENT, '--broker', 'mqtt://127.0.0.1:9', '--json'],
    { BV_EDGE_HOME: home },
  );
  assert.equal(result.code, 0, result.stderr);
  const record = JSON.parse(result.stdout) as ScanRecord;
  for (const view of record.views.filter((v) => v.view !== 'ca')) {
    const truthPath = join(home, 'phantom', `${view.view}.truth.json`);
    const truth = JSON.parse(readFileSync(truthPath, 'utf8')) as PhantomTruthFile;
    const measured = view.measurements.collapsibilityIndex!;
    console.log(
      `${view.view}: collapsibility measured ${measured.toFixed(3)}, ` +
        `truth ${truth.collapsibilityIndex.toFixed(3)}`,
    );
    assert.ok(
      Math.abs(measured - truth.collapsibilityIndex) <= 0.05,
      `${view.view}: measured ${measured}, truth ${truth.collapsibilityIndex}`,
    );
  }
});

test('scan queues while the broker is down', { skip: mosquittoSkipReason }, async () => {
  const home = tempHome();
  const demo = await runCli(['demo'], { BV_EDGE_HOME: home });
  assert.equal(demo.code, 0, demo.stderr);
  const dbPath = join(home, 'bv-edge.sqlite');
  const port = await freePort();
  const broker = ['--broker', `mqtt://127.0.0.1:${port}`];

  const offline = await runCli(
    ['scan', ...phantomViews(home), ...PATIENT, ...broker, '--case-id', 'queued-1', '--json'],
    { BV_EDGE_HOME: home },
  );
  assert.equal(offline.code, 0, offline.stderr);
  const first = JSON.parse(offline.stdout) as ScanRecord & { delivery: { pending: number } };
  assert.equal(first.delivery.pending, 1);

  const mosquitto = await startMosquitto(port);
  const subscriber = await connectAsync(mosquitto.url, { protocolVersion: 4 });
  try {
    await subscriber.subscribeAsync('bv-edge/v1/+/+/estimates', { qos: 1 });
    const received: EstimateMessage[] = [];
    subscriber.on('message', (_topic, payload) => {
      received.push(JSON.parse(payload.toString()) as EstimateMessage);
    });
    const online = await runCli(
      ['scan', ...phantomViews(home), ...PATIENT, ...broker, '--case-id', 'queued-2', '--json'],
      { BV_EDGE_HOME: home },
    );
    assert.equal(online.code, 0, online.stderr);
    const second = JSON.parse(online.stdout) as ScanRecord & { delivery: { pending: number } };
    assert.equal(second.delivery.pending, 0);
    const deadline = Date.now() + 10_000;
    while (received.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      received.map((message) => message.caseId),
      ['queued-1', 'queued-2'],
    );
    assert.equal(received[0]!.estimateId, first.estimateId);
    for (const message of received) {
      const text = JSON.stringify(message);
      assert.ok(!/heightCm|weightKg|"source"|\.mp4/.test(text), `private field in ${text}`);
    }
  } finally {
    subscriber.end(true);
    await mosquitto.stop();
  }
  const db = new Database(dbPath, { readonly: true });
  const depth = (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  db.close();
  assert.equal(depth, 0);
});
