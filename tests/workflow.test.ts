import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { connectAsync } from 'mqtt';

import { decodeClip } from '../src/capture/decode.ts';
import { loadConfig, Secret } from '../src/config/index.ts';
import { BvEdgeError } from '../src/core/errors.ts';
import type { Notice } from '../src/core/notice.ts';
import type { CaptureState, FrameSource } from '../src/core/frames.ts';
import type { GrayFrame, Point, ViewName } from '../src/core/image.ts';
import { silentLogger } from '../src/core/log.ts';
import { Daemon } from '../src/daemon.ts';
import { loadBundle } from '../src/inference/bundle.ts';
import { InferenceEngine } from '../src/inference/engine.ts';
import { ensurePhantomClips, type PhantomClipFile } from '../src/phantom/index.ts';
import { getCase, openDatabase, outboxStats, type Store } from '../src/store/index.ts';
import { workflowCases } from '../src/store/schema.ts';
import { NOTICES } from '../src/notices/index.ts';
import { createWorkflowApi } from '../src/workflow/api.ts';
import type { WorkflowEvent } from '../src/workflow/events.ts';
import { WorkflowService } from '../src/workflow/service.ts';
import { WorkflowSettingsSchema, type WorkflowSettings } from '../src/workflow/settings.ts';
import type { ScanRecord } from '../src/scan/types.ts';
import type { CaseSnapshot, RecordingOptions } from '../src/workflow/types.ts';
import { clip, realClipsSkip, repoRoot } from './helpers/data.ts';
import { FileFrameSource } from './helpers/file-frame-source.ts';
import { mosquittoSkipReason, startMosquitto } from './helpers/mosquitto.ts';
import { postJson } from './helpers/hono.ts';

/** Replay pace: eight times real time keeps a 3.5 s recording under half a second. */
const SPEED = 8;
/** Recording length in tests, s; the reference view models need at least 3.2 s. */
const RECORD_S = 3.5;
const TOPIC = 'bv-edge/v1/test/cart-1/estimates';
const PATIENT = { heightCm: 165, weightKg: 62, sex: 'female', ageYears: 46 };
const logger = silentLogger();

/** English names of the failed checks, as the rejected accept of a failed recording lists them. */
const CHECK_NAMES: Record<string, string> = {
  vessel_not_found: 'vessel not found',
  frozen: 'image frozen',
  probe_moved: 'probe moved',
  too_short: 'recording too short',
  no_pulsation: 'no pulsation',
  no_signal: 'no video signal',
};

let engine: InferenceEngine;
let phantom: Record<ViewName, PhantomClipFile>;

before(async () => {
  engine = await InferenceEngine.create(await loadBundle(join(repoRoot, 'models/reference')), {
    providers: ['cpu'],
    logger,
  });
  phantom = await ensurePhantomClips(mkdtempSync(join(tmpdir(), 'bv-edge-wf-phantom-')));
});

after(async () => {
  await engine.close();
});

function settings(overrides: Partial<WorkflowSettings> = {}): WorkflowSettings {
  return WorkflowSettingsSchema.parse({ recordDurationS: RECORD_S, ...overrides });
}

/** Starts a workflow over a fresh or reopened SQLite file, as the daemon builds it. */
async function startWorkflow(
  path: string,
  source: FrameSource,
  options: { settings?: WorkflowSettings; engine?: InferenceEngine } = {},
): Promise<{ store: Store; workflow: WorkflowService; events: WorkflowEvent[] }> {
  const store = openDatabase(path, logger);
  const workflow = new WorkflowService({
    store,
    engine: options.engine ?? engine,
    source,
    settings: options.settings ?? settings(),
    estimateTopic: TOPIC,
    logger,
  });
  const events: WorkflowEvent[] = [];
  workflow.events.onAny((event) => events.push(event));
  await workflow.start();
  return { store, workflow, events };
}

function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'bv-edge-wf-')), 'bv-edge.sqlite');
}

/**
 * Rejects unless `promise` rejects with a BvEdgeError of `code` whose message matches. Unless
 * `withNotice` is false, the error must carry a notice whose text is its message and whose key has
 * a Chinese text, because the page shows it.
 */
async function assertRejects(
  promise: Promise<unknown>,
  code: string,
  message: RegExp,
  withNotice = true,
) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof BvEdgeError, `expected a BvEdgeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    if (withNotice) {
      assert.ok(error.notice, `no notice on "${error.message}"`);
      assert.equal(error.notice.text, error.message);
      assert.ok(error.notice.key in NOTICES['zh-CN'], `no Chinese text of ${error.notice.key}`);
    }
    return true;
  });
}

async function recordAndAccept(
  workflow: WorkflowService,
  source: FileFrameSource,
  view: ViewName,
  path: string,
  options: RecordingOptions,
): Promise<void> {
  await source.play(path);
  const attempt = await workflow.recordView(view, options);
  const issues = attempt.quality.issues.map((issue) => issue.message).join(' ');
  assert.ok(attempt.quality.passed, `${view} failed its quality check: ${issues}`);
  await workflow.acceptView();
}

function types(events: WorkflowEvent[]): string[] {
  return events.map((event) => event.type).filter((type) => type !== 'recording-progress');
}

function workflowStatus(store: Store, caseId: string): string | undefined {
  return store.db
    .select({ status: workflowCases.status })
    .from(workflowCases)
    .where(eq(workflowCases.caseId, caseId))
    .get()?.status;
}

/**
 * Drives a case of four views with a retake of the first view and a restart after the second,
 * then closes it and checks what was stored.
 */
async function runFullCase(
  caseId: string,
  views: { view: ViewName; path: string; options: RecordingOptions }[],
): Promise<ScanRecord> {
  const path = tempDb();
  const source = new FileFrameSource({ speed: SPEED });
  let { store, workflow, events } = await startWorkflow(path, source);
  try {
    await workflow.openCase({ caseId, ...PATIENT });
    const [first, second, third, fourth] = views;

    await source.play(first!.path);
    const retaken = await workflow.recordView(first!.view, first!.options);
    assert.ok(retaken.quality.passed, JSON.stringify(retaken.quality.issues));
    assert.equal((await workflow.retake()).step, 'idle');
    await recordAndAccept(workflow, source, first!.view, first!.path, first!.options);
    await recordAndAccept(workflow, source, second!.view, second!.path, second!.options);
    assert.deepEqual(types(events), [
      'case-opened',
      'recording-started',
      'recording-finished',
      'quality-checked',
      'retake',
      'recording-started',
      'recording-finished',
      'quality-checked',
      'view-accepted',
      'recording-started',
      'recording-finished',
      'quality-checked',
      'view-accepted',
    ]);
    assert.ok(
      events.some((event) => event.type === 'recording-progress'),
      'no recording-progress event',
    );

    await workflow.stop();
    store.close();
    ({ store, workflow, events } = await startWorkflow(path, source));
    const restored = workflow.snapshot();
    assert.ok(restored, 'the open case was not restored');
    assert.equal(restored.caseId, caseId);
    assert.equal(restored.step, 'idle');
    assert.deepEqual(Object.keys(restored.accepted).sort(), [first!.view, second!.view].sort());
    assert.deepEqual(restored.missingViews.sort(), [third!.view, fourth!.view].sort());
    assert.deepEqual(types(events), ['case-restored']);

    await recordAndAccept(workflow, source, third!.view, third!.path, third!.options);
    assert.equal(workflow.snapshot()?.estimate, null);
    await recordAndAccept(workflow, source, fourth!.view, fourth!.path, fourth!.options);
    const estimated = workflow.snapshot();
    assert.ok(estimated?.estimate, 'no estimate after the last required view');
    assert.deepEqual(estimated.estimate.views, ['ijv', 'scv', 'ivc', 'ca']);
    assert.ok(
      events.some((event) => event.type === 'estimate-ready'),
      'no estimate-ready event',
    );

    const record = await workflow.closeCase();
    assert.equal(workflow.snapshot(), null);
    assert.equal(record.estimateId, estimated.estimate.estimateId);
    const stored = getCase(store, caseId);
    assert.ok(stored, `case ${caseId} was not stored`);
    assert.equal(stored.views.length, 4);
    assert.equal(stored.estimate.bvMl, record.estimate.bvMl);
    assert.equal(outboxStats(store.db).depth, 1);
    assert.equal(workflowStatus(store, caseId), 'closed');
    assert.equal(types(events).at(-1), 'case-closed');
    return record;
  } finally {
    source.stop();
    await workflow.stop();
    store.close();
  }
}

test('full phantom case', async () => {
  const record = await runFullCase(
    'phantom-1',
    (['ijv', 'scv', 'ivc', 'ca'] as const).map((view) => ({
      view,
      path: phantom[view].path,
      options: { mmPerPixel: phantom[view].truth.mmPerPixel },
    })),
  );
  // The phantom patient's true volume is 0.85 of Nadler's value (ensurePhantomClips' default).
  const trueMl = 0.85 * record.estimate.nadlerMl;
  const error = Math.abs(record.estimate.bvMl - trueMl) / trueMl;
  assert.ok(
    error < 0.15,
    `estimate ${record.estimate.bvMl} mL is ${error} off the truth ${trueMl}`,
  );
});

test('full real clips case', { skip: realClipsSkip }, async () => {
  const venous = clip('ijv-carotid/ijv-carotid-high-low-cvp.mp4');
  const seeded = (seed: Point, depthCm?: number): RecordingOptions =>
    depthCm === undefined ? { seed } : { seed, depthCm };
  // No subclavian recording exists among the real clips, so the SCV view reuses the right
  // panel of the venous clip. The carotid clip's overlay reads D 2.5 cm.
  await runFullCase('real-1', [
    { view: 'ijv', path: venous, options: seeded({ x: 140, y: 170 }) },
    { view: 'scv', path: venous, options: seeded({ x: 442, y: 190 }) },
    {
      view: 'ivc',
      path: clip('ivc/ivc-trans-collapsing.mp4'),
      options: seeded({ x: 390, y: 380 }),
    },
    {
      view: 'ca',
      path: clip('artery/brachial-long-bmode-color.mov'),
      options: seeded({ x: 350, y: 245 }, 2.5),
    },
  ]);
});

test('restart in review and recording', async () => {
  const path = tempDb();
  const source = new FileFrameSource({ speed: SPEED });
  let { store, workflow } = await startWorkflow(path, source);
  const restart = async () => {
    await workflow.stop();
    store.close();
    ({ store, workflow } = await startWorkflow(path, source));
  };
  try {
    await workflow.openCase({ caseId: 'restart-1', ...PATIENT, hbPreopGdl: '12.5' });
    await source.play(phantom.ijv.path);
    const attempt = await workflow.recordView('ijv', { mmPerPixel: phantom.ijv.truth.mmPerPixel });
    assert.ok(attempt.quality.passed, JSON.stringify(attempt.quality.issues));

    await restart();
    const review = workflow.snapshot();
    assert.equal(review?.step, 'review');
    assert.equal(review?.hbPreopGdl, 12.5);
    assert.equal(review?.pendingAttempt?.attemptId, attempt.attemptId);
    assert.deepEqual(review?.pendingAttempt?.result?.features, attempt.result?.features);
    assert.equal((await workflow.acceptView()).accepted.ijv?.view, 'ijv');

    await workflow.startRecording('scv');
    await restart();
    const interrupted = workflow.snapshot();
    assert.equal(interrupted?.step, 'idle');
    assert.equal(interrupted?.notice?.key, 'notice.workflow.interrupted');
    assert.deepEqual(interrupted?.notice?.params, { view: 'scv' });
    assert.match(interrupted?.notice?.text ?? '', /SCV recording was interrupted by a restart/);
    assert.deepEqual(Object.keys(interrupted?.accepted ?? {}), ['ijv']);
  } finally {
    source.stop();
    await workflow.stop();
    store.close();
  }
});

/** Bright, smoothly varying tissue with fresh noise in each frame, and no dark lumen anywhere. */
function tissueWithoutVessel(count: number): GrayFrame[] {
  const width = 320;
  const height = 240;
  let state = 7;
  const noise = (): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff - 0.5;
  };
  return Array.from({ length: count }, () => {
    const data = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const texture = 25 * Math.sin(x / 6) * Math.cos(y / 8);
        data[y * width + x] = Math.round(130 + texture + noise() * 10);
      }
    }
    return { width, height, channels: 1, data };
  });
}

/** Moves `frame` one pixel to the left per frame, as a probe slid across the skin. */
function sweep(frame: GrayFrame, count: number): GrayFrame[] {
  const { width, height } = frame;
  return Array.from({ length: count }, (_, shift) => {
    const data = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        data[y * width + x] = frame.data[y * width + Math.min(width - 1, x + shift)]!;
      }
    }
    return { width, height, channels: 1, data };
  });
}

/** A source that reports live but sends nothing, as a capture card with a stalled pipeline. */
class SilentSource implements FrameSource {
  readonly state: CaptureState = 'live';
  readonly fps = 0;
  imageArea(): null {
    return null;
  }
  subscribe(): () => void {
    return () => undefined;
  }
  onStateChange(): () => void {
    return () => undefined;
  }
}

describe('quality failures keep case open', () => {
  const source = new FileFrameSource({ speed: SPEED });
  let store: Store;
  let workflow: WorkflowService;

  before(async () => {
    ({ store, workflow } = await startWorkflow(tempDb(), source));
    await workflow.openCase({ caseId: 'quality-1', ...PATIENT });
  });

  after(async () => {
    source.stop();
    await workflow.stop();
    store.close();
  });

  async function expectFailure(code: string, message: RegExp, run: () => Promise<unknown>) {
    const attempt = await run();
    const snapshot = workflow.snapshot();
    assert.ok(snapshot, 'the case was closed by a failed recording');
    assert.equal(snapshot.step, 'review');
    const pending = snapshot.pendingAttempt;
    assert.ok(pending, 'no attempt under review');
    assert.equal(pending, attempt);
    assert.equal(pending.quality.passed, false);
    assert.equal(pending.result, null);
    const codes = pending.quality.issues.map((issue) => issue.code);
    assert.ok(codes.includes(code as never), `issues ${codes.join(', ')} lack ${code}`);
    const text = pending.quality.issues.map((issue) => issue.message).join(' ');
    assert.match(text, message);
    for (const issue of pending.quality.issues) {
      assert.equal(issue.notice.text, issue.message);
      assert.match(issue.notice.key, /^notice\.workflow\.quality\./);
    }
    await assertRejects(
      workflow.acceptView(),
      'invalid_transition',
      new RegExp(`failed the quality check \\(.*${CHECK_NAMES[code]}.*\\) and cannot be accepted`),
    );
    assert.equal((await workflow.retake()).step, 'idle');
    assert.equal(workflow.snapshot()?.caseId, 'quality-1');
  }

  test('no vessel found', async () => {
    source.playFrames(tissueWithoutVessel(30), 30);
    await expectFailure('vessel_not_found', /No vessel found in the IJV recording/, () =>
      workflow.recordView('ijv'),
    );
  });

  test('frozen image', async () => {
    const ivc = await decodeClip(phantom.ivc.path);
    source.playFrames(ivc.frames.slice(0, 1), 30);
    await expectFailure('frozen', /scanner looks frozen/, () => workflow.recordView('ivc'));
  });

  test('probe moved', async () => {
    const first = (await decodeClip(phantom.ijv.path)).frames[0] as GrayFrame;
    source.playFrames(sweep(first, 120), 30);
    await expectFailure('probe_moved', /Hold the probe still on the vessel/, () =>
      workflow.recordView('ijv'),
    );
  });

  test('recording stopped early', async () => {
    await source.play(phantom.ca.path);
    await workflow.startRecording('ca');
    await new Promise((resolve) => setTimeout(resolve, 150));
    await expectFailure('too_short', /lasted [\d.]+ s; at least 3\.2 s/, () =>
      workflow.stopRecording(),
    );
  });

  test('carotid without pulsation', async () => {
    // The IVC phantom breathes but does not pulse with the heart.
    await source.play(phantom.ivc.path);
    await expectFailure(
      'no_pulsation',
      /No heart-rate pulsation was found in the carotid lumen/,
      () => workflow.recordView('ca'),
    );
  });

  test('source not live', async () => {
    source.pause();
    await assertRejects(workflow.recordView('ca'), 'source_not_live', /no video signal/);
    assert.equal(workflow.snapshot()?.step, 'idle');
  });

  test('frames stop arriving', async () => {
    await source.play(phantom.ca.path);
    await workflow.startRecording('ca');
    source.pause();
    await expectFailure('no_signal', /No video frame arrived for 2 s/, () =>
      workflow.waitForAttempt(),
    );
  });
});

test('live source without frames', async () => {
  const { store, workflow } = await startWorkflow(tempDb(), new SilentSource(), {
    settings: settings({ frameTimeoutS: 0.2 }),
  });
  try {
    await workflow.openCase({ caseId: 'silent-1', ...PATIENT });
    const attempt = await workflow.recordView('ijv');
    assert.equal(attempt.endedBy, 'failure');
    assert.equal(attempt.quality.issues[0]?.code, 'no_signal');
    assert.match(attempt.quality.issues[0]!.message, /No video frame arrived for 0\.2 s/);
  } finally {
    await workflow.stop();
    store.close();
  }
});

test('invalid transitions rejected', async () => {
  const source = new FileFrameSource({ speed: SPEED });
  const { store, workflow } = await startWorkflow(tempDb(), source);
  try {
    await assertRejects(workflow.acceptView(), 'invalid_transition', /no case is open/);
    await assertRejects(
      workflow.openCase({ caseId: 'Jane Doe', heightCm: '1.72', weightKg: 70, sex: 'x' }),
      'invalid_case_request',
      /Invalid case id "Jane Doe".*Invalid height 1.72 cm.*Invalid sex "x"/,
    );
    await assertRejects(
      workflow.openCase({ caseId: 't-1', ...PATIENT, hbPreopGdl: 130 }),
      'invalid_case_request',
      /Invalid hemoglobin "130"/,
    );

    await workflow.openCase({ caseId: 't-1', ...PATIENT });
    await assertRejects(
      workflow.openCase({ caseId: 't-2', ...PATIENT }),
      'invalid_transition',
      /Case t-1 is open/,
    );
    await assertRejects(workflow.acceptView(), 'invalid_transition', /Cannot accept a view now/);
    await assertRejects(workflow.retake(), 'invalid_transition', /nothing to retake/);
    await assertRejects(
      workflow.stopRecording(),
      'invalid_transition',
      /No recording is in progress/,
    );
    await assertRejects(
      workflow.closeCase(),
      'invalid_transition',
      /views IJV, SCV, IVC, carotid are not accepted yet/,
    );
    await assertRejects(
      workflow.startRecording('aorta' as ViewName),
      'invalid_request',
      /Unknown view "aorta"/,
    );
    await assertRejects(
      workflow.startRecording('ijv', { depthCm: 0 }),
      'invalid_request',
      /Invalid depthCm 0: expected a number 1–30 cm\./,
    );

    await source.play(phantom.ijv.path);
    await workflow.startRecording('ijv');
    await assertRejects(
      workflow.startRecording('scv'),
      'invalid_transition',
      /IJV view is being recorded/,
    );
    await assertRejects(workflow.closeCase(), 'invalid_transition', /IJV view is being recorded/);
    await assertRejects(workflow.acceptView(), 'invalid_transition', /IJV view is being recorded/);
    const attempt = await workflow.waitForAttempt();
    assert.ok(attempt.quality.passed, JSON.stringify(attempt.quality.issues));
    await assertRejects(workflow.closeCase(), 'invalid_transition', /waits for review/);
    await assertRejects(workflow.startRecording('scv'), 'invalid_transition', /waits for review/);

    await workflow.abandonCase();
    assert.equal(workflow.snapshot(), null);
    assert.equal(workflowStatus(store, 't-1'), 'abandoned');
    await workflow.openCase({ caseId: 't-1', ...PATIENT });
    assert.equal(workflowStatus(store, 't-1'), 'open');
    const secondOpen = {
      caseId: 'other-1',
      status: 'open' as const,
      step: 'idle' as const,
      covariates: { heightCm: 165, weightKg: 62, sex: 'female' as const },
      requiredViews: ['ijv' as const],
      openedAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    };
    assert.throws(
      () => store.db.insert(workflowCases).values(secondOpen).run(),
      /UNIQUE constraint failed/,
    );
    await workflow.abandonCase();
    store.db
      .insert(workflowCases)
      .values({
        caseId: 'done-1',
        status: 'closed',
        step: 'idle',
        covariates: { heightCm: 165, weightKg: 62, sex: 'female' },
        requiredViews: ['ijv'],
        openedAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
      })
      .run();
    await assertRejects(
      workflow.openCase({ caseId: 'done-1', ...PATIENT }),
      'case_exists',
      /Case done-1 already exists \(closed\)/,
    );

    await workflow.stop();
    await assertRejects(
      workflow.openCase({ caseId: 't-3', ...PATIENT }),
      'workflow_stopped',
      /workflow is stopped/,
    );
  } finally {
    source.stop();
    await workflow.stop();
    store.close();
  }
});

test('optional views are masked', async (t) => {
  const bundle = await loadBundle(join(repoRoot, 'models/reference'));
  const manifest = {
    ...bundle.manifest,
    requiredViews: ['ijv', 'ivc', 'ca'] as ViewName[],
    optionalViews: ['scv'] as ViewName[],
  };
  const scvOptional = await InferenceEngine.create(
    { ...bundle, manifest },
    { providers: ['cpu'], logger },
  );
  const source = new FileFrameSource({ speed: SPEED });
  try {
    await t.test('required views from config', async () => {
      const store = openDatabase(tempDb(), logger);
      const workflow = new WorkflowService({
        store,
        engine: scvOptional,
        source,
        settings: settings({ requiredViews: ['ijv', 'ca'] }),
        estimateTopic: TOPIC,
        logger,
      });
      await assertRejects(
        workflow.start(),
        'invalid_config',
        /leaves out ivc, which model bv-edge-reference 0.1.0 requires/,
        false,
      );
      store.close();
    });

    await t.test('estimate without scv', async () => {
      const { store, workflow } = await startWorkflow(tempDb(), source, { engine: scvOptional });
      try {
        const opened = await workflow.openCase({ caseId: 'masked-1', ...PATIENT });
        assert.deepEqual(opened.requiredViews, ['ijv', 'ivc', 'ca']);
        for (const view of ['ijv', 'ivc', 'ca'] as const) {
          await recordAndAccept(workflow, source, view, phantom[view].path, {
            mmPerPixel: phantom[view].truth.mmPerPixel,
          });
        }
        const estimate = workflow.snapshot()?.estimate;
        assert.ok(estimate, 'no estimate from the three required views');
        assert.deepEqual(estimate.views, ['ijv', 'ivc', 'ca']);
        const record = await workflow.closeCase();
        assert.deepEqual(
          record.views.map((view) => view.view),
          ['ijv', 'ivc', 'ca'],
        );
      } finally {
        await workflow.stop();
        store.close();
      }
    });

    await t.test('config requires scv', async () => {
      const { store, workflow } = await startWorkflow(tempDb(), source, {
        engine: scvOptional,
        settings: settings({ requiredViews: ['ijv', 'scv', 'ivc', 'ca'] }),
      });
      try {
        const opened = await workflow.openCase({ caseId: 'masked-2', ...PATIENT });
        assert.deepEqual(opened.requiredViews, ['ijv', 'scv', 'ivc', 'ca']);
      } finally {
        await workflow.stop();
        store.close();
      }
    });
  } finally {
    source.stop();
    await scvOptional.close();
  }
});

/** Any response body of the workflow API. */
test('workflow API names invalid fields', async () => {
  const source = new FileFrameSource({ speed: SPEED });
  const { store, workflow } = await startWorkflow(tempDb(), source);
  const app = new Hono();
  app.route('/api/workflow', createWorkflowApi(workflow, logger));
  const post = (path: string, body: unknown) =>
    postJson<ApiBody>(app, `/api/workflow${path}`, body);
  try {
    for (const path of ['/api/workflow', '/api/workflow/']) {
      const response = await app.request(path);
      assert.equal(response.status, 200, `GET ${path}`);
      assert.deepEqual(await response.json(), { case: null }, `GET ${path}`);
    }

    const caseCases: [Record<string, unknown>, string, string][] = [
      [{ heightCm: undefined }, 'heightCm', 'required, a number 100–250 cm'],
      [{ weightKg: undefined }, 'weightKg', 'required, a number 25–300 kg'],
      [{ sex: undefined }, 'sex', 'required, "female" or "male"'],
      [{ heightCm: 1.72 }, 'heightCm', 'expected a number 100–250 cm'],
      [{ hbPreopGdl: 0.5 }, 'hbPreopGdl', 'expected a number 3–25 g/dL'],
    ];
    for (const [change, field, detail] of caseCases) {
      const { status, body } = await post('/case', { caseId: 'api-2', ...PATIENT, ...change });
      assert.equal(status, 400, JSON.stringify(change));
      assert.equal(body.errors?.length, 1, JSON.stringify(body));
      assert.equal(body.errors[0]?.field, field);
      assert.equal(body.errors[0]?.detail, detail);
      assert.equal(body.errors[0]?.notice?.text, detail);
      assert.match(body.errors[0]?.notice?.key ?? '', /^notice\.workflow\.field\./);
      assert.equal(body.detail, `Invalid request body: ${field}: ${detail}.`);
    }
    const unknownKey = await post('/case', { caseId: 'api-2', ...PATIENT, name: 'Jane Doe' });
    assert.equal(
      unknownKey.body.detail,
      'Invalid request body: name: Unrecognized key "name": remove it.',
    );

    const recordingCases: [Record<string, unknown>, string, string][] = [
      [{ durationS: 100000 }, 'durationS', 'expected a number above 0 and at most 60 s'],
      [{ durationS: 0 }, 'durationS', 'expected a number above 0 and at most 60 s'],
      [{ depthCm: 500 }, 'depthCm', 'expected a number 1–30 cm'],
      [{ depthCm: 0.5 }, 'depthCm', 'expected a number 1–30 cm'],
      [{ depthCm: 0 }, 'depthCm', 'expected a number 1–30 cm'],
      [{ mmPerPixel: 0 }, 'mmPerPixel', 'expected a number above 0 and at most 5 mm'],
      [{ seed: { x: -5, y: 10 } }, 'seed.x', 'expected a number of pixels, 0 or more'],
    ];
    for (const [change, field, detail] of recordingCases) {
      const { status, body } = await post('/recording', { view: 'ijv', ...change });
      assert.equal(status, 400, JSON.stringify(change));
      assert.equal(body.errors?.length, 1, JSON.stringify(body));
      assert.equal(body.errors?.[0]?.field, field);
      assert.equal(body.errors?.[0]?.detail, detail);
      assert.equal(body.errors?.[0]?.notice?.text, detail);
    }

    await workflow.openCase({ caseId: 'api-2', ...PATIENT });
    await source.play(phantom.ijv.path);
    const { frames } = await decodeClip(phantom.ijv.path);
    const { width, height } = frames[0]!;
    await new Promise<void>((resolve) => {
      const unsubscribe = source.subscribe(() => {
        unsubscribe();
        resolve();
      });
    });
    const outside = await post('/recording', { view: 'ijv', seed: { x: 5, y: 99999 } });
    assert.equal(outside.status, 400);
    assert.equal(
      outside.body.detail,
      `Invalid seed (5, 99999): it lies outside the ${width}×${height} video frame. ` +
        `Give x 0–${width - 1} and y 0–${height - 1} pixels, or leave the seed out.`,
    );
    assert.equal(workflow.snapshot()?.step, 'idle');

    // The reference model's window is 32 frames at 10 Hz, so a shorter recording cannot pass.
    const short = await post('/recording', { view: 'ijv', durationS: 3 });
    assert.equal(short.status, 400);
    assert.equal(
      short.body.detail,
      'Invalid durationS 3: the quality check needs at least 3.2 s for this view. ' +
        'Record for 3.2 s or longer.',
    );
    assert.equal(workflow.snapshot()?.step, 'idle');
  } finally {
    source.stop();
    await workflow.stop();
    store.close();
  }
});

interface ApiBody {
  case?: CaseSnapshot | null;
  record?: ScanRecord;
  /** RFC 9457 problem details of a rejected request. */
  code?: string;
  detail?: string;
  errors?: { field: string; code: string; detail: string; notice?: Notice }[];
  notice?: Notice;
}

test('daemon serves workflow API', { skip: mosquittoSkipReason }, async () => {
  const broker = await startMosquitto();
  const subscriber = await connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
  const source = new FileFrameSource({ speed: SPEED });
  const config = loadConfig(
    {
      dataDir: mkdtempSync(join(tmpdir(), 'bv-edge-daemon-')),
      providers: ['cpu'],
      mqtt: { url: broker.url, site: 'test', device: 'cart-1' },
    },
    { env: {} },
  );
  const daemon = new Daemon({
    config,
    workflow: settings(),
    http: { host: '127.0.0.1', port: 0, token: new Secret('test-token') },
    frameSource: source,
    logger,
  });
  try {
    await subscriber.subscribeAsync(TOPIC, { qos: 1 });
    const received = new Promise<string>((resolve) =>
      subscriber.once('message', (_topic, payload) => resolve(payload.toString())),
    );
    await daemon.start();
    const base = `${daemon.url}api/workflow`;
    const call = async (
      method: string,
      path: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: 'Bearer test-token',
          // The API takes writes only as JSON, even without a body, so other sites cannot post.
          'content-type': 'application/json',
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as ApiBody };
    };

    assert.equal((await fetch(base)).status, 401);
    assert.deepEqual((await call('GET', '')).body, { case: null });
    const form = await fetch(`${base}/case`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer test-token',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'caseId=x',
    });
    assert.equal(form.status, 415);
    assert.equal(((await form.json()) as ApiBody).code, 'unsupported_media_type');
    const unknownKey = await call('POST', '/case', { caseId: 'api-1', name: 'Jane Doe' });
    assert.equal(unknownKey.status, 400);
    const nameError = unknownKey.body.errors?.find((error) => error.field === 'name');
    assert.equal(nameError?.code, 'unrecognized_keys');
    assert.match(unknownKey.body.detail ?? '', /Unrecognized key "name"/);
    assert.equal((await call('POST', '/accept')).status, 409);

    const opened = await call('POST', '/case', { caseId: 'api-1', ...PATIENT });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    for (const view of ['ijv', 'scv', 'ivc', 'ca'] as const) {
      await source.play(phantom[view].path);
      const started = await call('POST', '/recording', {
        view,
        mmPerPixel: phantom[view].truth.mmPerPixel,
      });
      assert.equal(started.status, 202, JSON.stringify(started.body));
      assert.equal(started.body.case?.step, 'recording');
      const attempt = await daemon.workflow.waitForAttempt();
      assert.ok(attempt.quality.passed, JSON.stringify(attempt.quality.issues));
      const review = (await call('GET', '')).body.case;
      assert.equal(review?.step, 'review');
      assert.equal(review?.pendingAttempt?.attemptId, attempt.attemptId);
      const accepted = await call('POST', '/accept');
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    }
    const closed = await call('POST', '/close');
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    const message = JSON.parse(await received) as { caseId: string; estimateId: string };
    assert.equal(message.caseId, 'api-1');
    assert.equal(message.estimateId, closed.body.record?.estimateId);
    const status = (await (
      await fetch(`${daemon.url}api/status`, { headers: { authorization: 'Bearer test-token' } })
    ).json()) as {
      latestEstimate: { caseId: string };
    };
    assert.equal(status.latestEstimate.caseId, 'api-1');
  } finally {
    source.stop();
    assert.equal(await daemon.stop(), true);
    await subscriber.endAsync();
    await broker.stop();
  }
});

test('run command stops on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bv-edge-run-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      version: 2,
      dataDir: dir,
      providers: ['cpu'],
      http: { port: 0 },
      mqtt: { url: 'mqtt://127.0.0.1:9', publishTimeoutMs: 200 },
    }),
  );
  const entry =
    "import { runCommand } from './src/commands/run.ts';" +
    "import { createLogger } from './src/core/log.ts';" +
    'process.exitCode = await runCommand(process.argv.slice(1), createLogger({ level: "info" }));';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', entry, '--', '--config', configPath],
    { cwd: repoRoot, env: { ...process.env, BV_EDGE_LOG_LEVEL: 'info' } },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`run did not start within 60 s:\n${stderr}`)),
      60_000,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /status page on (http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  const api = (await (await fetch(`${url}api/workflow`)).json()) as { case: unknown };
  assert.deepEqual(api, { case: null });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /"msg":"daemon stopped"/);
});
