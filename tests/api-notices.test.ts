import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { Hono } from 'hono';

import type { GrayFrame } from '../src/core/image.ts';
import { silentLogger } from '../src/core/log.ts';
import { fillTemplate, type Notice } from '../src/core/notice.ts';
import { createHttpApp } from '../src/http/app.ts';
import { createCasesApi } from '../src/http/cases.ts';
import { MESSAGES } from '../src/http/messages.ts';
import { loadBundle } from '../src/inference/bundle.ts';
import { InferenceEngine } from '../src/inference/engine.ts';
import { WORKFLOW_NOTICES } from '../src/notices/workflow.ts';
import { openDatabase } from '../src/store/index.ts';
import { createWorkflowApi } from '../src/workflow/api.ts';
import { WorkflowService } from '../src/workflow/service.ts';
import { WorkflowSettingsSchema } from '../src/workflow/settings.ts';
import { repoRoot } from './helpers/data.ts';
import { FileFrameSource } from './helpers/file-frame-source.ts';
import { postJson } from './helpers/hono.ts';

const logger = silentLogger();
const ZH: Readonly<Record<string, string>> = MESSAGES['zh-CN'];
const EN: Readonly<Record<string, string>> = MESSAGES.en;
const PATIENT = { heightCm: 165, weightKg: 62, sex: 'female' };

/** A problem response body, with the notices of the problem and of its field errors. */
interface ProblemBody {
  code: string;
  detail: string;
  notice?: Notice;
  errors?: { field: string; code: string; detail: string; notice?: Notice }[];
}

/** Names the placeholders of a template, e.g. ["view:notice.vessel", "min"], sorted. */
function placeholders(template: string): string[] {
  return [...template.matchAll(/\{(\w+(?::[\w.-]+)?)\}/g)].map((match) => match[1]!).sort();
}

/**
 * Checks that the page can show `notice` in Chinese: its key has a Chinese text, every name that
 * the text looks up exists in Chinese, and the English text equals `text`. Returns the Chinese
 * text.
 */
function assertChinese(notice: Notice | undefined, text: string): string {
  assert.ok(notice, `no notice for "${text}"`);
  assert.equal(notice.text, text);
  const template = ZH[notice.key];
  assert.ok(template, `no Chinese text of ${notice.key}`);
  for (const placeholder of placeholders(template)) {
    const [name, prefix] = placeholder.split(':');
    assert.ok(name! in notice.params, `${notice.key} lacks param ${name}`);
    if (prefix) {
      const key = `${prefix}.${notice.params[name!]}`;
      assert.ok(ZH[key], `no Chinese text of ${key}, named by ${notice.key}`);
    }
  }
  return fillTemplate(template, notice.params, (key) => ZH[key]);
}

/** Plain gray frames with a gradient, enough for a recording to start and run. */
function grayFrames(count: number): GrayFrame[] {
  const width = 64;
  const height = 48;
  return Array.from({ length: count }, (_, index) => {
    const data = new Uint8Array(width * height);
    for (let i = 0; i < data.length; i++) data[i] = (i + index * 3) % 200;
    return { width, height, channels: 1, data };
  });
}

test('workflow catalogue complete in Chinese', () => {
  const english: Readonly<Record<string, string>> = WORKFLOW_NOTICES.en;
  const chinese: Readonly<Record<string, string>> = WORKFLOW_NOTICES['zh-CN'];
  assert.deepEqual(Object.keys(chinese).sort(), Object.keys(english).sort());
  for (const [key, template] of Object.entries(english)) {
    assert.ok(chinese[key], `no Chinese text of ${key}`);
    assert.deepEqual(placeholders(chinese[key]), placeholders(template), key);
    assert.equal(ZH[key], chinese[key], `page catalogue lacks ${key}`);
    assert.equal(EN[key], template, `page catalogue lacks ${key}`);
  }
});

test('workflow API problems carry notices', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bv-edge-notices-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const engine = await InferenceEngine.create(
    await loadBundle(join(repoRoot, 'models/reference')),
    {
      providers: ['cpu'],
      logger,
    },
  );
  t.after(() => engine.close());
  const store = openDatabase(join(dir, 'bv-edge.sqlite'), logger);
  t.after(() => store.close());
  const source = new FileFrameSource();
  t.after(() => source.stop());
  source.playFrames(grayFrames(10), 30);
  const workflow = new WorkflowService({
    store,
    engine,
    source,
    settings: WorkflowSettingsSchema.parse({ recordDurationS: 30 }),
    estimateTopic: 'bv-edge/v1/test/cart-1/estimates',
    logger,
  });
  await workflow.start();
  t.after(() => workflow.stop());
  const app = new Hono();
  app.route('/api/workflow', createWorkflowApi(workflow, logger));
  const post = (path: string, body: unknown) =>
    postJson<ProblemBody>(app, `/api/workflow${path}`, body);

  await t.test('400 field error of heightCm 20', async () => {
    const { status, body } = await post('/case', { caseId: 'n-1', ...PATIENT, heightCm: 20 });
    assert.equal(status, 400);
    assert.equal(body.errors?.length, 1, JSON.stringify(body));
    const error = body.errors[0]!;
    assert.equal(error.field, 'heightCm');
    assert.equal(error.notice?.key, 'notice.workflow.field.expected.range');
    assert.deepEqual(error.notice?.params, { min: 100, max: 250, unit: 'cm' });
    assert.equal(typeof error.notice?.params['min'], 'number');
    assert.equal(assertChinese(error.notice, error.detail), '应为 100–250 cm 的数值');
  });

  await t.test('400 field error of a missing sex', async () => {
    const { body } = await post('/case', { caseId: 'n-1', heightCm: 165, weightKg: 62 });
    const error = body.errors?.find((each) => each.field === 'sex');
    assert.equal(error?.notice?.key, 'notice.workflow.field.required.sex');
    assertChinese(error?.notice, error?.detail ?? '');
  });

  await t.test('409 record while another view records', async () => {
    assert.equal((await post('/case', { caseId: 'n-1', ...PATIENT })).status, 201);
    assert.equal((await post('/recording', { view: 'ijv', durationS: 60 })).status, 202);
    const { status, body } = await post('/recording', { view: 'scv' });
    assert.equal(status, 409);
    assert.equal(body.code, 'invalid_transition');
    assert.equal(body.notice?.key, 'notice.workflow.notNow.recording');
    assert.deepEqual(body.notice?.params, { action: 'recordView', view: 'ijv' });
    const chinese = assertChinese(body.notice, body.detail);
    assert.equal(chinese, '现在无法采集切面。正在采集颈内静脉切面。请停止采集或等待采集结束。');
    assert.match(body.detail, /^Cannot record a view now\. The IJV view is being recorded\./);
  });

  await t.test('400 of a duration below the model window', async () => {
    assert.equal((await post('/retake', {})).status, 200);
    const { status, body } = await post('/recording', { view: 'ijv', durationS: 1 });
    assert.equal(status, 400);
    assert.equal(body.notice?.key, 'notice.workflow.durationTooShort');
    // The reference model's window is 32 frames at 10 Hz.
    assert.deepEqual(body.notice?.params, { durationS: 1, minDurationS: 3.2 });
    assertChinese(body.notice, body.detail);
  });

  await t.test('409 close with views missing', async () => {
    const { status, body } = await post('/close', {});
    assert.equal(status, 409);
    assert.equal(body.notice?.key, 'notice.workflow.closeMissing.4');
    assert.deepEqual(body.notice?.params, {
      caseId: 'n-1',
      view1: 'ijv',
      view2: 'scv',
      view3: 'ivc',
      view4: 'ca',
    });
    const chinese = assertChinese(body.notice, body.detail);
    assert.ok(chinese.includes('颈内静脉、锁骨下静脉、下腔静脉、颈总动脉'), chinese);
    assert.equal((await post('/abandon', {})).status, 200);
  });

  await t.test('409 accept without a case', async () => {
    const { status, body } = await post('/accept', {});
    assert.equal(status, 409);
    assert.equal(body.notice?.key, 'notice.workflow.noCase');
    assert.equal(
      assertChinese(body.notice, body.detail),
      '无法采用切面：没有进行中的病例。请先建立病例。',
    );
  });
});

test('case API problems carry notices', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bv-edge-notices-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openDatabase(join(dir, 'bv-edge.sqlite'), logger);
  t.after(() => store.close());
  const api = createCasesApi({
    store,
    labelOptions: { topicBase: 'bv-edge/v1/test/cart/' },
    logger,
  });
  const request = async (path: string, body?: unknown) => {
    const init =
      body === undefined
        ? {}
        : {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          };
    const response = await api.request(path, init);
    return { status: response.status, body: (await response.json()) as ProblemBody };
  };
  const label = {
    enteredBy: 'coordinator',
    hbUnit: 'g/dL',
    hbBefore: 12,
    hbAfter: 12.5,
    withdrawnMl: 500,
  };

  await t.test('label with hbAfter not below hbBefore', async () => {
    const { status, body } = await request('/c-1/labels', label);
    assert.equal(status, 400);
    const error = body.errors?.find((each) => each.field === 'hbAfter');
    assert.equal(error?.code, 'custom');
    assert.equal(error?.notice?.key, 'notice.cases.field.hbAfterBelow');
    assert.equal(
      assertChinese(error?.notice, error?.detail ?? ''),
      '应低于采血前血红蛋白，因为血液稀释会降低血红蛋白',
    );
  });

  await t.test('label with Hb outside the range in mmol/L', async () => {
    const { body } = await request('/c-1/labels', {
      ...label,
      hbUnit: 'mmol/L',
      hbBefore: 40,
      hbAfter: 6,
    });
    const error = body.errors?.find((each) => each.field === 'hbBefore');
    assert.equal(error?.notice?.key, 'notice.cases.field.hbRangeConverted');
    const params = error?.notice?.params ?? {};
    assert.equal(params['unit'], 'mmol/L');
    assert.equal(params['minGdl'], 3);
    assert.equal(params['maxGdl'], 25);
    for (const name of ['min', 'max'] as const) {
      assert.equal(typeof params[name], 'number', `${name} is a number`);
    }
    assert.match(error?.detail ?? '', /^expected [\d.]+–[\d.]+ mmol\/L \(3–25 g\/dL\)$/);
    assertChinese(error?.notice, error?.detail ?? '');
  });

  await t.test('label with withdrawnMl and bags', async () => {
    const { body } = await request('/c-1/labels', { ...label, bags: [{ volumeMl: 450 }] });
    const error = body.errors?.find((each) => each.field === 'withdrawnMl');
    assert.equal(error?.notice?.key, 'notice.cases.field.withdrawnOrBags');
    assertChinese(error?.notice, error?.detail ?? '');
  });

  await t.test('label with withdrawnMl too large', async () => {
    const { body } = await request('/c-1/labels', { ...label, hbAfter: 10, withdrawnMl: 5000 });
    const error = body.errors?.find((each) => each.field === 'withdrawnMl');
    assert.equal(error?.notice?.key, 'notice.cases.field.atMost');
    assert.deepEqual(error?.notice?.params, { max: 3000, unit: 'mL' });
    assertChinese(error?.notice, error?.detail ?? '');
  });

  await t.test('case list with invalid days', async () => {
    for (const [days, key] of [
      ['0', 'notice.cases.field.days.min'],
      ['1.5', 'notice.cases.field.days.whole'],
      ['x', 'notice.cases.field.days.number'],
    ] as const) {
      const { status, body } = await request(`/?days=${days}`);
      assert.equal(status, 400, days);
      assert.equal(body.errors?.[0]?.field, 'days');
      assert.equal(body.errors?.[0]?.notice?.key, key, days);
      assertChinese(body.errors?.[0]?.notice, body.errors?.[0]?.detail ?? '');
    }
  });

  await t.test('unknown case', async () => {
    const { status, body } = await request('/nobody-1');
    assert.equal(status, 404);
    assert.equal(body.notice?.key, 'notice.cases.unknownCase');
    assert.deepEqual(body.notice?.params, { caseId: '"nobody-1"' });
    assertChinese(body.notice, body.detail);
  });
});

test('unknown route carries notice', async () => {
  const { app, close } = createHttpApp({
    language: 'zh-CN',
    hbUnit: 'g/dL',
    logger,
    readStatus: () => {
      throw new Error('status is not read by this test');
    },
    readiness: () => ({ storeOpen: true, modelsLoaded: true, captureState: null }),
  });
  try {
    const response = await app.request('/api/nothing');
    assert.equal(response.status, 404);
    const body = (await response.json()) as ProblemBody;
    assert.equal(body.notice?.key, 'notice.http.noRoute');
    assert.deepEqual(body.notice?.params, { path: '/api/nothing' });
    assert.equal(assertChinese(body.notice, body.detail), '不存在路径 /api/nothing。');
  } finally {
    close();
  }
});
