import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import Database from 'better-sqlite3';

import { CaptureService } from '../src/capture/index.ts';
import { workflowSettings } from '../src/commands/run.ts';
import { loadConfig } from '../src/config/index.ts';
import { VIEW_NAMES } from '../src/core/image.ts';
import { silentLogger } from '../src/core/log.ts';
import { Daemon } from '../src/daemon.ts';
import type { ScanRecord } from '../src/scan/types.ts';
import type { CaseSnapshot } from '../src/workflow/types.ts';

/** Long enough for the reference model's window of 32 frames at 10 Hz. */
const RECORD_SECONDS = 3.5;

/** Opens the daemon's database read-only beside the running daemon (WAL allows it). */
function store(dataDir: string): Database.Database {
  return new Database(join(dataDir, 'bv-edge.sqlite'), { readonly: true });
}

async function api<T>(base: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(new URL(`api/workflow${path}`, base), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as T;
  assert.ok(response.status < 300, `${path}: HTTP ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function waitForReview(base: string): Promise<CaseSnapshot> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { case: snapshot } = await api<{ case: CaseSnapshot }>(base, '');
    if (snapshot.step === 'review') return snapshot;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail('recording did not reach review within 60 s');
}

test('daemon case on live phantom capture', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bv-edge-daemon-'));
  const config = loadConfig({
    dataDir,
    providers: ['cpu'],
    mqtt: { url: 'mqtt://127.0.0.1:9' },
    capture: { source: { kind: 'phantom', view: 'ca' } },
  });
  const logger = silentLogger();
  const capture = new CaptureService({ capture: config.capture, dataDir, logger });
  await capture.start();
  const daemon = new Daemon({
    config,
    workflow: workflowSettings(config),
    http: { host: '127.0.0.1', port: 0 },
    frameSource: capture,
    stopFrameSource: () => capture.stop(),
    logger,
  });
  try {
    await daemon.start();
    const base = daemon.url!;
    await api(base, '/case', { caseId: 'live-1', heightCm: 165, weightKg: 62, sex: 'female' });
    // The phantom source plays one carotid clip, because the ca view must show a pulsation; the
    // operator names each view in turn.
    for (const view of VIEW_NAMES) {
      await api(base, '/recording', { view, durationS: RECORD_SECONDS });
      const snapshot = await waitForReview(base);
      const attempt = snapshot.pendingAttempt!;
      assert.equal(attempt.view, view);
      assert.ok(attempt.result !== null, `${view}: ${JSON.stringify(attempt.quality)}`);
      assert.ok(attempt.result.frameCount >= 90, `${view}: ${attempt.result.frameCount} frames`);
      await api(base, '/accept', {});
    }
    const { record } = await api<{ record: ScanRecord }>(base, '/close', {});
    assert.equal(record.caseId, 'live-1');
    assert.ok(Number.isFinite(record.estimate.bvMl), `bvMl ${record.estimate.bvMl}`);
    // The estimate keeps the model notice's translations of the bundle that made it.
    const translations = daemon.workflow.engine.manifest.noticeTranslations;
    assert.ok(translations?.['zh-CN'], 'the reference bundle has no zh-CN notice');
    assert.deepEqual(record.estimate.noticeTranslations, translations);
    const status = (await (await fetch(new URL('api/status', base))).json()) as {
      capture: { state: string; fps: number };
      outbox: { depth: number };
    };
    assert.equal(status.capture.state, 'live');
    assert.ok(status.capture.fps > 20, `capture fps ${status.capture.fps}`);
    // The fleet agent queues telemetry and capture events beside the estimate.
    const db = store(dataDir);
    const estimates = db
      .prepare("select count(*) as n from outbox where kind = 'estimate'")
      .get() as { n: number };
    const stored = db.prepare('select notice_translations from estimates').get() as {
      notice_translations: string;
    };
    db.close();
    assert.equal(estimates.n, 1);
    assert.deepEqual(JSON.parse(stored.notice_translations), translations);
    assert.ok(status.outbox.depth >= 1, `outbox depth ${status.outbox.depth}`);

    // Every model run of the case is timed in /metrics.
    const metrics = await (await fetch(new URL('metrics', base))).text();
    for (const model of [...VIEW_NAMES, 'fusion']) {
      const count = new RegExp(
        `^bv_edge_inference_duration_seconds_count\\{model="${model}"\\} (\\d+)`,
        'm',
      );
      const runs = Number(count.exec(metrics)?.[1] ?? 0);
      assert.ok(runs >= 1, `no ${model} inference in /metrics`);
    }
  } finally {
    assert.equal(await daemon.stop(), true);
    await capture.stop();
  }
  assert.equal(capture.state, 'stopped');
});
