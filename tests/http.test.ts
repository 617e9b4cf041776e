import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Secret } from '../src/config/index.ts';
import { silentLogger } from '../src/core/log.ts';
import { createHttpApp, DaemonMetrics, type HttpApp, type Readiness } from '../src/http/index.ts';
import { MESSAGES } from '../src/http/messages.ts';
import { CASES_STATUS_BY_CODE } from '../src/http/cases.ts';
import { PROBLEM_TITLES, type Problem } from '../src/http/problem.ts';
import { createStatusApp, serveStatus, type StatusServer } from '../src/http/status.ts';
import type { StatusResponse, StatusSnapshot } from '../src/http/types.ts';
import { estimateMessage } from '../src/mqtt/payload.ts';
import { notice, NOTICES, type NoticeKey } from '../src/notices/index.ts';
import type { ScanRecord } from '../src/scan/types.ts';
import { openDatabase, saveScan, type Store } from '../src/store/index.ts';
import { createWorkflowApi, WORKFLOW_STATUS_BY_CODE } from '../src/workflow/api.ts';
import { WorkflowEventBus } from '../src/workflow/events.ts';
import type { WorkflowService } from '../src/workflow/service.ts';

const HOSTILE_CASE_ID = `<script>alert("x")</script>&'`;

function sampleRecord(caseId: string): ScanRecord {
  return {
    caseId,
    estimateId: '0b7e4b1e-6a0c-4a8e-9d51-5f0f3e0a9c11',
    createdAt: '2025-03-14T09:26:53.000Z',
    covariates: { heightCm: 178, weightKg: 70, sex: 'male', ageYears: 54 },
    views: [
      {
        view: 'ijv',
        source: 'ijv.mp4',
        imageArea: { x: 112, y: 64, width: 800, height: 600 },
        seed: { x: 512, y: 340 },
        seeded: true,
        frameCount: 150,
        fps: 30,
        durationS: 5,
        mmPerPixel: 0.0625,
        measurements: {
          areaMm2: { mean: 98.44, min: 61.2, max: 131.7 },
          apDiameterMm: { mean: 9.13, min: 6.8, max: 11.4 },
          lateralDiameterMm: { mean: 13.71, min: 12.9, max: 14.6 },
          collapsibilityIndex: 0.4035,
          trackedFraction: 0.98,
        },
        areaSeriesMm2: [98.1, 97.5],
        features: [0.125],
      },
      {
        view: 'ca',
        source: 'ca.mp4',
        imageArea: { x: 112, y: 64, width: 800, height: 600 },
        seed: { x: 430, y: 300 },
        seeded: false,
        frameCount: 300,
        fps: 60,
        durationS: 5,
        mmPerPixel: 0.0625,
        measurements: {
          areaMm2: { mean: 38.5, min: 35.1, max: 42.3 },
          apDiameterMm: { mean: 7.0, min: 6.7, max: 7.3 },
          lateralDiameterMm: { mean: 7.1, min: 6.8, max: 7.4 },
          pulsatilityIndex: 0.187,
          heartRateBpm: 72,
          trackedFraction: 1,
        },
        areaSeriesMm2: [38.2, 42.3],
        features: [0.5],
      },
    ],
    estimate: {
      bvMl: 4850.4,
      bvMlPerKg: 69.29,
      lowerMl: 4210,
      upperMl: 5490,
      nadlerMl: 4927,
      modelName: 'bv-reference',
      modelVersion: '0.1.0',
      intendedUse: 'research and engineering tests',
      notice: 'Reference model, not for clinical use.',
      executionProvider: 'cpu',
      population: {
        inPopulation: false,
        reasons: [notice('notice.population.hbMissing', { min: 10 })],
      },
    },
  };
}

let snapshot: StatusSnapshot;
let server: StatusServer;

before(async () => {
  server = await serveStatus(
    createStatusApp(() => snapshot),
    { host: '127.0.0.1', port: 0 },
  );
});

after(async () => {
  await server.close();
});

function setSnapshot(latestScan: ScanRecord | null, mqttConnected = true): void {
  snapshot = {
    latestScan,
    outbox: { depth: 3, oldestAgeS: 42.4 },
    mqttConnected,
    startedAt: '2025-03-14T08:00:00.000Z',
  };
}

async function getPage(): Promise<{ response: Response; body: string }> {
  const response = await fetch(server.url);
  return { response, body: await response.text() };
}

describe('status page', () => {
  test('serves on loopback port', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.notEqual(server.url, 'http://127.0.0.1:0/');
  });

  test('renders latest estimate', async () => {
    setSnapshot(sampleRecord('case-0001'));
    const { response, body } = await getPage();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    for (const expected of [
      'case-0001',
      '4850 mL',
      '69.3 mL/kg',
      '95 % interval: 4210 – 5490 mL',
      'Nadler prior: 4927 mL',
      'bv-reference 0.1.0 (cpu)',
      'Intended use: research and engineering tests',
      'Reference model, not for clinical use.',
    ]) {
      assert.ok(body.includes(expected), `page lacks ${expected}`);
    }
  });

  test('renders per-view measurements', async () => {
    setSnapshot(sampleRecord('case-0001'));
    const { body } = await getPage();
    for (const expected of ['<td>IJV</td>', '<td>98.4</td>', '<td>0.40</td>', '<td>CA</td>']) {
      assert.ok(body.includes(expected), `page lacks ${expected}`);
    }
    assert.ok(body.includes('<td>72</td>'), 'heart rate missing');
    assert.ok(body.includes('<td>98 %</td>'), 'tracked fraction missing');
  });

  test('renders outbox and broker state', async () => {
    setSnapshot(sampleRecord('case-0001'), true);
    const connected = (await getPage()).body;
    assert.ok(connected.includes('3 messages queued, oldest 42 s old'));
    assert.ok(connected.includes('>connected<'));

    setSnapshot(sampleRecord('case-0001'), false);
    assert.ok((await getPage()).body.includes('>disconnected<'));
  });

  test('renders before the first scan', async () => {
    setSnapshot(null);
    const { response, body } = await getPage();
    assert.equal(response.status, 200);
    assert.ok(body.includes('No scan yet.'));
    assert.ok(body.includes('Reference model, not for clinical use.'));
  });

  test('escapes hostile case id', async () => {
    setSnapshot(sampleRecord(HOSTILE_CASE_ID));
    const { body } = await getPage();
    assert.ok(!body.includes('<script>'), 'raw script tag in page');
    assert.ok(body.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;'));
  });

  test('escapes hostile model fields', async () => {
    const record = sampleRecord('case-0002');
    record.estimate.modelName = '<img src=x onerror=alert(1)>';
    record.estimate.notice = '</p><iframe>';
    setSnapshot(record);
    const { body } = await getPage();
    assert.ok(!body.includes('<img'), 'raw img tag in page');
    assert.ok(!body.includes('<iframe>'), 'raw iframe tag in page');
    assert.ok(body.includes('&lt;img src=x onerror=alert(1)&gt;'));
  });

  test('loads nothing external', async () => {
    setSnapshot(sampleRecord('case-0001'));
    const { response, body } = await getPage();
    assert.ok(!/<script|<link|@import|https?:\/\//i.test(body), 'page references a resource');
    assert.equal(
      response.headers.get('content-security-policy'),
      "default-src 'none'; style-src 'unsafe-inline'",
    );
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  });
});

describe('status API', () => {
  test('returns status JSON', async () => {
    setSnapshot(sampleRecord(HOSTILE_CASE_ID));
    const response = await fetch(new URL('/api/status', server.url));
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const status = (await response.json()) as StatusResponse;
    assert.equal(status.startedAt, '2025-03-14T08:00:00.000Z');
    assert.deepEqual(status.mqtt, { connected: true });
    assert.deepEqual(status.outbox, { depth: 3, oldestAgeS: 42.4 });
    assert.equal(status.latestEstimate?.caseId, HOSTILE_CASE_ID);
    assert.deepEqual(status.latestEstimate?.bloodVolume, {
      value: 4850.4,
      unit: 'mL',
      interval: { level: 0.95, lower: 4210, upper: 5490 },
    });
    assert.equal(status.latestEstimate?.views.length, 2);
  });

  test('returns null estimate before first scan', async () => {
    setSnapshot(null);
    const status = (await (
      await fetch(new URL('/api/status', server.url))
    ).json()) as StatusResponse;
    assert.equal(status.latestEstimate, null);
  });

  test('reports capture and providers', async () => {
    setSnapshot(null);
    snapshot = {
      ...snapshot,
      capture: { state: 'frozen', fps: 12.5 },
      executionProviders: { ijv: 'cpu', fusion: 'cpu' },
    };
    const status = (await (
      await fetch(new URL('/api/status', server.url))
    ).json()) as StatusResponse;
    assert.deepEqual(status.capture, { state: 'frozen', fps: 12.5 });
    assert.deepEqual(status.executionProviders, { ijv: 'cpu', fusion: 'cpu' });
    const { body } = await getPage();
    assert.ok(body.includes('Capture: <span class="down">frozen</span>'), 'page lacks capture');
  });

  test('healthz answers ok', async () => {
    const response = await fetch(new URL('/healthz', server.url));
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'ok');
  });

  test('unknown path is 404', async () => {
    const response = await fetch(new URL('/missing', server.url));
    assert.equal(response.status, 404);
    await response.body?.cancel();
  });
});

describe('touchscreen app', () => {
  const TOKEN = 'http-test-token';
  let dataDir: string;
  let store: Store;
  let bus: WorkflowEventBus;
  let metrics: DaemonMetrics;
  let http: HttpApp;
  let app: StatusServer;
  let ready: Readiness;
  let appSnapshot: StatusSnapshot;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'bv-edge-http-'));
    store = openDatabase(join(dataDir, 'bv-edge.sqlite'), silentLogger());
    const record = sampleRecord('case-http-1');
    record.views = record.views.map((view) => ({ ...view, features: [] }));
    saveScan(store, record, [
      { topic: 'bv-edge/v1/test/cart/estimates', payload: estimateMessage(record) },
    ]);
    bus = new WorkflowEventBus(silentLogger());
    appSnapshot = {
      latestScan: null,
      outbox: { depth: 1, oldestAgeS: 3 },
      mqttConnected: false,
      startedAt: '2025-03-14T08:00:00.000Z',
      capture: { state: 'live', fps: 29.5, framesDropped: 4 },
    };
    ready = { storeOpen: true, modelsLoaded: false, captureState: 'starting' };
    metrics = new DaemonMetrics(() => appSnapshot);
    const logger = silentLogger();
    const stubWorkflow = {} as unknown as WorkflowService;
    http = createHttpApp({
      language: 'zh-CN',
      hbUnit: 'g/dL',
      token: new Secret(TOKEN),
      logger,
      readStatus: () => appSnapshot,
      readiness: () => ready,
      events: bus,
      cases: {
        store,
        labelOptions: { topicBase: 'bv-edge/v1/test/cart/' },
        // Two days after the sample record, so that it is within the recent-cases window.
        now: () => new Date('2025-03-16T09:00:00.000Z'),
        logger,
      },
      metrics,
      // Validation runs before the workflow is called, so no workflow is needed here.
      routes: { '/api/workflow': createWorkflowApi(stubWorkflow, logger) },
    });
    app = await serveStatus(http.app, { host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    http.close();
    await app.close();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const authorized = { authorization: `Bearer ${TOKEN}` };

  function get(path: string, headers: Record<string, string> = authorized): Promise<Response> {
    return fetch(new URL(path, app.url), { headers, redirect: 'manual' });
  }

  async function post(path: string, body: unknown): Promise<{ status: number; json: Problem }> {
    const response = await fetch(new URL(path, app.url), {
      method: 'POST',
      headers: { ...authorized, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Problem };
  }

  test('API requires the token', async () => {
    for (const path of ['api/status', 'api/events', 'api/cases/case-http-1', 'metrics']) {
      const response = await get(path, {});
      assert.equal(response.status, 401, path);
      assert.equal(response.headers.get('content-type'), 'application/problem+json', path);
      const problem = (await response.json()) as Problem;
      assert.equal(problem.type, 'urn:bv-edge:problem:unauthorized');
      assert.equal(problem.status, 401);
      assert.equal(problem.notice?.key, 'notice.request.unauthorized', path);
    }
    assert.equal((await get('api/status', { authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await get('api/status')).status, 200);
    const cookie = { cookie: `bv_edge_token=${TOKEN}` };
    assert.equal((await get('api/status', cookie)).status, 200);
    assert.equal((await get('healthz', {})).status, 200);
  });

  test('page token moves to a cookie', async () => {
    const redirect = await get(`?token=${TOKEN}`, {});
    assert.equal(redirect.status, 303);
    assert.equal(redirect.headers.get('location'), '/');
    const cookie = redirect.headers.get('set-cookie') ?? '';
    assert.match(cookie, new RegExp(`^bv_edge_token=${TOKEN};`));
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const login = await get('', {});
    assert.equal(login.status, 200);
    assert.ok((await login.text()).includes(MESSAGES['zh-CN']['login.token']), 'no sign-in form');
    assert.equal((await get('?token=wrong', {})).status, 401);
    const shell = await get('', { cookie: `bv_edge_token=${TOKEN}` });
    const html = await shell.text();
    assert.ok(html.includes('<script src="/assets/app.js" defer></script>'), 'no app script');
    assert.ok(!/<script>|style=|https?:\/\//.test(html), 'inline script, style or remote URL');
    const csp = shell.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
  });

  test('login form checks the token', async () => {
    const login = (token: string) =>
      fetch(new URL('login', app.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, language: 'en' }).toString(),
        redirect: 'manual',
      });
    const rejected = await login('wrong');
    assert.equal(rejected.status, 401);
    assert.ok((await rejected.text()).includes(MESSAGES.en['login.invalid']), 'no error shown');
    const accepted = await login(TOKEN);
    assert.equal(accepted.status, 303);
    assert.match(accepted.headers.get('set-cookie') ?? '', /^bv_edge_token=/);
  });

  test('serves page assets', async () => {
    const script = await get('assets/app.js', {});
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    const catalogue = await (await get('assets/messages.js', {})).text();
    assert.ok(catalogue.startsWith('window.BV_EDGE_CATALOGUES = {'), 'no catalogue');
    const css = await get('assets/app.css', {});
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    await css.body?.cancel();
  });

  test('messages.js has Hb factors', async () => {
    const script = await (await get('assets/messages.js', {})).text();
    const match = /window\.BV_EDGE_HB_GDL_PER_UNIT = (\{.*\});/.exec(script);
    assert.ok(match, 'no hemoglobin factors in messages.js');
    const factors = JSON.parse(match[1]!) as Record<string, number>;
    assert.equal(factors['g/dL'], 1);
    assert.equal(factors['g/L'], 0.1);
    assert.equal(factors['mmol/L'], 1 / 0.6206);
  });

  test('favicon is served without token', async () => {
    for (const path of ['favicon.ico', 'favicon.svg']) {
      const response = await get(path, {});
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', /^image\/svg\+xml/, path);
      assert.match(await response.text(), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, path);
    }
    const shell = await (await get('')).text();
    assert.ok(shell.includes('<link rel="icon" href="/favicon.svg"'), 'shell links no icon');
  });

  test('other host names are rejected', async (t) => {
    // Without a token; a page whose DNS name was rebound to 127.0.0.1 sends its own name.
    const open = createHttpApp({
      language: 'en',
      hbUnit: 'g/dL',
      logger: silentLogger(),
      readStatus: () => appSnapshot,
      readiness: () => ready,
      events: bus,
    });
    const server = await serveStatus(open.app, { host: '127.0.0.1', port: 0 });
    t.after(async () => {
      open.close();
      await server.close();
    });
    const port = new URL(server.url).port;
    // fetch() sends the URL's host in place of a Host header, so node:http sends these requests.
    const fetchAs = (path: string, host: string) =>
      new Promise<{ status: number; json: () => Promise<unknown> }>((resolveResponse, reject) => {
        const request = httpRequest(
          new URL(path, server.url),
          { headers: { host } },
          (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk.toString()));
            response.on('end', () =>
              resolveResponse({
                status: response.statusCode ?? 0,
                json: async () => JSON.parse(body) as unknown,
              }),
            );
          },
        );
        request.on('error', reject);
        request.end();
      });

    const rebound = await fetchAs('api/status', `evil.example:${port}`);
    assert.equal(rebound.status, 403);
    const problem = (await rebound.json()) as Problem;
    assert.equal(problem.code, 'foreign_host');
    assert.equal(problem.notice?.key, 'notice.request.foreignHost');
    for (const host of ['localhost', '127.0.0.1', '[::1]']) {
      assert.equal((await fetchAs('api/status', `${host}:${port}`)).status, 200, host);
    }
    assert.equal((await fetchAs('healthz', 'probe.example')).status, 200);
  });

  test('every problem code has a page message', () => {
    const codes = new Set([
      ...Object.keys(PROBLEM_TITLES),
      ...Object.keys(WORKFLOW_STATUS_BY_CODE),
      ...Object.keys(CASES_STATUS_BY_CODE),
    ]);
    const untitled = [...codes].filter((code) => !(code in PROBLEM_TITLES));
    assert.deepEqual(untitled, [], 'codes the API returns without a title');
    for (const language of ['en', 'zh-CN'] as const) {
      const catalogue: Readonly<Record<string, string>> = MESSAGES[language];
      const missing = [...codes].filter((code) => catalogue[`problem.${code}`] === undefined);
      assert.deepEqual(missing, [], `problem codes without a ${language} message`);
    }
  });

  test('notice keys stay apart from page keys', () => {
    const noticeKeys = Object.keys(NOTICES.en);
    assert.ok(noticeKeys.length > 100, `only ${noticeKeys.length} notices`);
    assert.deepEqual(
      noticeKeys.filter((key) => !key.startsWith('notice.')),
      [],
      'notice keys outside the notice. prefix',
    );
    assert.deepEqual(Object.keys(NOTICES['zh-CN']).sort(), [...noticeKeys].sort());
    const placeholders = (text: string) => [...text.matchAll(/\{[^}]+\}/g)].map(String).sort();
    for (const key of noticeKeys) {
      const en = NOTICES.en[key as NoticeKey];
      const zh = (NOTICES['zh-CN'] as Record<string, string>)[key]!;
      assert.deepEqual(placeholders(zh), placeholders(en), `placeholders of ${key}`);
    }
  });

  test('catalogues have equal keys', () => {
    const english = Object.keys(MESSAGES.en).sort();
    assert.deepEqual(Object.keys(MESSAGES['zh-CN']).sort(), english);
    for (const [key, text] of Object.entries(MESSAGES['zh-CN'])) {
      assert.notEqual(text.trim(), '', `empty Chinese text for ${key}`);
    }
  });

  test('readyz 503 then 200', async () => {
    const notReady = await get('readyz', {});
    assert.equal(notReady.status, 503);
    const body = (await notReady.json()) as { ready: boolean; reasons: string[] };
    assert.equal(body.ready, false);
    assert.deepEqual(body.reasons, [
      'The models are not loaded.',
      'Capture is starting, not live.',
    ]);
    ready = { storeOpen: true, modelsLoaded: true, captureState: 'live' };
    const isReady = await get('readyz', {});
    assert.equal(isReady.status, 200);
    assert.deepEqual(await isReady.json(), { ready: true, reasons: [] });
  });

  test('metrics parse as Prometheus text', async () => {
    metrics.observeInference('ijv', 0.012);
    metrics.observeInference('fusion', 0.003);
    bus.emit('case-closed', { caseId: 'case-http-1', record: sampleRecord('case-http-1') });
    const response = await get('metrics');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const samples = new Map<string, number>();
    for (const line of (await response.text()).split('\n')) {
      if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
      assert.ok(match, `not a Prometheus sample line: ${line}`);
      samples.set(match[1]!, Number(match[2]));
    }
    assert.equal(samples.get('bv_edge_capture_fps'), 29.5);
    assert.equal(samples.get('bv_edge_capture_dropped_frames_total'), 4);
    assert.equal(samples.get('bv_edge_outbox_depth'), 1);
    assert.equal(samples.get('bv_edge_estimates_total'), 1);
    assert.equal(samples.get('bv_edge_inference_duration_seconds_count{model="ijv"}'), 1);
    assert.equal(
      samples.get('bv_edge_inference_duration_seconds_bucket{le="0.025",model="ijv"}'),
      1,
    );
    assert.equal(
      samples.get('bv_edge_inference_duration_seconds_bucket{le="0.01",model="ijv"}'),
      0,
    );
  });

  test('event stream has ids and replays', async () => {
    const first = await readEvents(app.url, {}, (text) => text.includes('event: status'));
    assert.match(first, /^event: hello\ndata: .*\nretry: 1000\n/m);
    assert.ok(first.includes('"resumed":false'), 'fresh stream marked resumed');
    bus.emit('case-abandoned', { caseId: 'case-sse-1' });
    bus.emit('case-abandoned', { caseId: 'case-sse-2' });
    const ids = [...first.matchAll(/^id: (\S+)$/gm)].map((match) => match[1]);
    assert.deepEqual(ids, [], 'status events carry ids');
    // Resume from a made-up first id of this boot: the second event is replayed.
    const hello = JSON.parse(/^data: (.*)$/m.exec(first)![1]!) as { bootId: string };
    const resumed = await readEvents(app.url, { 'last-event-id': `${hello.bootId}-2` }, (text) =>
      text.includes('case-sse-2'),
    );
    assert.ok(resumed.includes('"resumed":true'), 'not resumed');
    assert.ok(!resumed.includes('case-sse-1'), 'replayed an event the client had');
    assert.match(
      resumed,
      new RegExp(`^event: case-abandoned\\ndata: .*case-sse-2.*\\nid: ${hello.bootId}-3\\n`, 'm'),
    );
    const otherBoot = await readEvents(app.url, { 'last-event-id': 'ffffffff-1' }, (text) =>
      text.includes('event: hello'),
    );
    assert.ok(otherBoot.includes('"resumed":false'), 'resumed across boots');
  });

  async function readEvents(
    base: string,
    headers: Record<string, string>,
    done: (text: string) => boolean,
  ): Promise<string> {
    const controller = new AbortController();
    const response = await fetch(new URL('api/events', base), {
      headers: { ...authorized, ...headers },
      signal: controller.signal,
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!done(text)) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    return text;
  }

  test('label API stores a label', async () => {
    const stored = await post('api/cases/case-http-1/labels', {
      enteredBy: 'coordinator-1',
      hbUnit: 'g/dL',
      hbBefore: 13.2,
      hbAfter: 10.1,
      withdrawnMl: 1100,
    });
    assert.equal(stored.status, 201, JSON.stringify(stored.json));
    const labels = (stored.json as unknown as { labels: { method: string }[] }).labels;
    assert.deepEqual(
      labels.map((label) => label.method),
      ['single-step', 'continuous-exchange'],
    );
    const read = (await (await get('api/cases/case-http-1')).json()) as {
      labels: unknown[];
      delivery: { central: string };
    };
    assert.equal(read.labels.length, 2);
    assert.equal(read.delivery.central, 'queued');
  });

  test('label API rejects unknown case', async () => {
    const response = await post('api/cases/no-such-case/labels', {
      enteredBy: 'coordinator-1',
      hbUnit: 'g/dL',
      hbBefore: 13,
      hbAfter: 10,
      withdrawnMl: 1000,
    });
    assert.equal(response.status, 404);
    assert.equal(response.json.code, 'case_unknown');
    assert.equal((await get('api/cases/no-such-case')).status, 404);
  });

  const VALID_LABEL = {
    enteredBy: 'coordinator-1',
    hbUnit: 'g/dL',
    hbBefore: 13,
    hbAfter: 10,
    withdrawnMl: 1000,
  };

  /** One bad value per field, with the fields the problem must name. */
  const LABEL_CASES: [string, Record<string, unknown>, string[]][] = [
    ['missing enteredBy', { enteredBy: undefined }, ['enteredBy']],
    ['blank enteredBy', { enteredBy: '  ' }, ['enteredBy']],
    ['unknown method', { method: 'magic' }, ['method']],
    ['unknown hbUnit', { hbUnit: 'mg' }, ['hbUnit']],
    ['text hbBefore', { hbBefore: 'x' }, ['hbBefore']],
    ['hbBefore out of range', { hbBefore: 30 }, ['hbBefore']],
    ['hbAfter above hbBefore', { hbAfter: 14 }, ['hbAfter']],
    ['hbAfter in g/L range', { hbUnit: 'g/L', hbBefore: 130, hbAfter: 1 }, ['hbAfter']],
    ['zero withdrawnMl', { withdrawnMl: 0 }, ['withdrawnMl']],
    ['withdrawnMl and bags', { bags: [{ volumeMl: 450 }] }, ['withdrawnMl']],
    [
      'bag volume too big',
      { withdrawnMl: undefined, bags: [{ volumeMl: 800 }] },
      ['bags.0.volumeMl'],
    ],
    ['empty bags', { withdrawnMl: undefined, bags: [] }, ['bags']],
    ['anticoagulant too big', { anticoagulantMlPerBag: 200 }, ['anticoagulantMlPerBag']],
    ['empty replacementFluid', { replacementFluid: '' }, ['replacementFluid']],
    ['negative replacementVolumeMl', { replacementVolumeMl: -1 }, ['replacementVolumeMl']],
    ['urineOutputMl too big', { urineOutputMl: 6000 }, ['urineOutputMl']],
    ['text bleedingMl', { bleedingMl: 'a' }, ['bleedingMl']],
    ['equilibrationMinutes too big', { equilibrationMinutes: 700 }, ['equilibrationMinutes']],
    ['unknown key', { mrn: '123' }, ['mrn']],
  ];

  for (const [name, change, fields] of LABEL_CASES) {
    test(`label API rejects ${name}`, async () => {
      const response = await post('api/cases/case-http-1/labels', { ...VALID_LABEL, ...change });
      assert.equal(response.status, 400);
      assert.equal(response.json.type, 'urn:bv-edge:problem:invalid_request');
      assert.equal(response.json.title, 'Invalid request');
      assert.deepEqual(
        response.json.errors?.map((error) => error.field),
        fields,
      );
      assert.ok(response.json.detail.includes(fields[0]!), response.json.detail);
      assertNotices(response.json);
    });
  }

  const VALID_CASE = { caseId: 'case-2', heightCm: 170, weightKg: 70, sex: 'male' };
  const CASE_CASES: [string, Record<string, unknown>, string[]][] = [
    ['missing caseId', { caseId: undefined }, ['caseId']],
    ['caseId with a space', { caseId: 'Jane Doe' }, ['caseId']],
    ['height out of range', { heightCm: 17 }, ['heightCm']],
    ['text height', { heightCm: 'tall' }, ['heightCm']],
    ['missing weight', { weightKg: undefined }, ['weightKg']],
    ['weight out of range', { weightKg: 7000 }, ['weightKg']],
    ['unknown sex', { sex: 'x' }, ['sex']],
    ['age out of range', { ageYears: 200 }, ['ageYears']],
    ['zero hemoglobin', { hbPreopGdl: 0 }, ['hbPreopGdl']],
    ['unknown key', { name: 'Jane Doe' }, ['name']],
  ];

  for (const [name, change, fields] of CASE_CASES) {
    test(`case API rejects ${name}`, async () => {
      const response = await post('api/workflow/case', { ...VALID_CASE, ...change });
      assert.equal(response.status, 400);
      assert.equal(response.json.code, 'invalid_request');
      assert.deepEqual(
        response.json.errors?.map((error) => error.field),
        fields,
      );
      assertNotices(response.json);
    });
  }

  const RECORDING_CASES: [string, Record<string, unknown>, string[]][] = [
    ['unknown view', { view: 'aorta' }, ['view']],
    ['seed without y', { view: 'ijv', seed: { x: 1 } }, ['seed.y']],
    ['zero depth', { view: 'ijv', depthCm: 0 }, ['depthCm']],
    ['negative spacing', { view: 'ijv', mmPerPixel: -0.1 }, ['mmPerPixel']],
    ['text duration', { view: 'ijv', durationS: 'long' }, ['durationS']],
  ];

  for (const [name, body, fields] of RECORDING_CASES) {
    test(`recording API rejects ${name}`, async () => {
      const response = await post('api/workflow/recording', body);
      assert.equal(response.status, 400);
      assert.deepEqual(
        response.json.errors?.map((error) => error.field),
        fields,
      );
      assertNotices(response.json);
    });
  }

  /** Checks that a problem and each of its field errors carry a notice the catalogues know. */
  function assertNotices(problem: Problem): void {
    const known = (key: string | undefined) => key !== undefined && key in NOTICES['zh-CN'];
    assert.ok(known(problem.notice?.key), `problem notice ${problem.notice?.key}`);
    for (const error of problem.errors ?? []) {
      assert.ok(known(error.notice?.key), `${error.field}: notice ${error.notice?.key}`);
      assert.equal(error.detail, error.notice?.text, `${error.field}: detail and notice differ`);
    }
  }

  /** Label bodies with zod's own issues, and the notice of the first error of the field. */
  const FIELD_NOTICE_CASES: [string, unknown, string, string, Record<string, unknown>][] = [
    ['empty enteredBy', { enteredBy: '' }, 'enteredBy', 'notice.cases.field.enteredBy', {}],
    ['missing enteredBy', { enteredBy: undefined }, 'enteredBy', 'notice.field.required', {}],
    ['text hbBefore', { hbBefore: 'abc' }, 'hbBefore', 'notice.cases.field.number', {}],
    ['missing hbBefore', { hbBefore: undefined }, 'hbBefore', 'notice.cases.field.number', {}],
    ['negative hbAfter', { hbAfter: -3 }, 'hbAfter', 'notice.field.above', { limit: 0 }],
    [
      'long replacementFluid',
      { replacementFluid: 'x'.repeat(101) },
      'replacementFluid',
      'notice.field.textMax',
      { max: 100 },
    ],
    [
      'unknown method',
      { method: 'magic' },
      'method',
      'notice.field.oneOf',
      { options: 'single-step, continuous-exchange, bag-hemoglobin' },
    ],
    ['empty bags', { withdrawnMl: undefined, bags: [] }, 'bags', 'notice.field.listNotEmpty', {}],
    [
      'number enteredBy',
      { enteredBy: 7 },
      'enteredBy',
      'notice.field.expected',
      { type: 'string' },
    ],
  ];

  for (const [name, change, field, key, params] of FIELD_NOTICE_CASES) {
    test(`field notice of ${name}`, async () => {
      const response = await post('api/cases/case-http-1/labels', {
        ...VALID_LABEL,
        ...(change as object),
      });
      assert.equal(response.status, 400);
      // A negative Hb also fails the Hb range, which is a second error of the field.
      const errors = response.json.errors?.filter((error) => error.field === field) ?? [];
      assert.equal(errors[0]?.notice?.key, key, JSON.stringify(response.json.errors));
      assert.deepEqual(errors[0]?.notice?.params, params);
      assertNotices(response.json);
    });
  }

  test('field notice of non-object body', async () => {
    for (const body of [[1], null, 'text']) {
      const response = await post('api/cases/case-http-1/labels', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(response.json.errors?.[0]?.field, 'body');
      assert.equal(response.json.errors?.[0]?.notice?.key, 'notice.field.notObject');
      assert.equal(response.json.notice?.key, 'notice.request.invalidFields');
      assert.deepEqual(response.json.notice?.params, { fields: 'body' });
    }
  });

  /** Sends a write to `path` with `headers` (and the token), as another site's page could. */
  async function write(
    path: string,
    headers: Record<string, string>,
    body?: string,
    method = 'POST',
  ): Promise<{ status: number; json: Problem }> {
    const response = await fetch(new URL(path, app.url), {
      method,
      headers: { ...authorized, ...headers },
      // Bytes, because fetch would add text/plain to a string body.
      ...(body !== undefined && { body: new TextEncoder().encode(body) }),
    });
    return { status: response.status, json: (await response.json()) as Problem };
  }

  const FOREIGN_TYPES: [string, Record<string, string>, string][] = [
    ['text/plain', { 'content-type': 'text/plain' }, 'text/plain'],
    [
      'form-urlencoded',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'application/x-www-form-urlencoded',
    ],
    ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, 'multipart/form-data'],
    ['no content type', {}, 'none'],
  ];

  for (const [name, headers, type] of FOREIGN_TYPES) {
    test(`API write rejects ${name}`, async () => {
      for (const [method, path] of [
        ['POST', 'api/workflow/abandon'],
        ['POST', 'api/cases/case-http-1/labels'],
        ['PUT', 'api/hl7/cases/case-http-1/mrn'],
        ['DELETE', 'api/cases/case-http-1'],
      ] as const) {
        const response = await write(path, headers, '{}', method);
        assert.equal(response.status, 415, `${method} ${path}`);
        assert.equal(response.json.code, 'unsupported_media_type');
        assert.equal(response.json.notice?.key, 'notice.request.unsupportedMediaType');
        assert.deepEqual(response.json.notice?.params, { type });
      }
    });
  }

  test('API write rejects foreign origin', async () => {
    for (const origin of [
      'http://evil.example',
      'null',
      `http://localhost:${new URL(app.url).port}`,
    ]) {
      const response = await write(
        'api/workflow/abandon',
        { 'content-type': 'application/json', origin },
        '{}',
      );
      assert.equal(response.status, 403, origin);
      assert.equal(response.json.code, 'cross_origin');
      assert.equal(response.json.notice?.key, 'notice.request.crossOrigin');
      assert.deepEqual(response.json.notice?.params, { origin });
    }
  });

  test('API write accepts own origin', async () => {
    const origin = new URL(app.url).origin;
    // Past the check, the label API validates the body, which names the missing fields.
    const response = await write(
      'api/cases/case-http-1/labels',
      { 'content-type': 'application/json; charset=utf-8', origin },
      '{}',
    );
    assert.equal(response.status, 400);
    assert.equal(response.json.code, 'invalid_request');
    assert.ok((response.json.errors?.length ?? 0) > 0, 'no field errors');
    // A write without a body passes with the JSON content type as well.
    const empty = await write('api/cases/no-such-case/labels', {
      'content-type': 'application/json',
      origin,
    });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.notice?.key, 'notice.request.badJson');
  });

  test('status reports low disk', async () => {
    const read = async () => ((await (await get('api/status')).json()) as StatusResponse).diskLow;
    assert.equal(await read(), false);
    appSnapshot = { ...appSnapshot, diskLow: true };
    try {
      assert.equal(await read(), true);
    } finally {
      appSnapshot = { ...appSnapshot, diskLow: false };
    }
  });

  test('API reads are not checked', async () => {
    const response = await get('api/status', { ...authorized, origin: 'http://evil.example' });
    assert.equal(response.status, 200);
  });

  test('recent cases newest first', async () => {
    const older = { ...sampleRecord('case-http-older'), estimateId: randomUUID() };
    older.createdAt = '2025-03-01T10:00:00.000Z';
    const newer = { ...sampleRecord('case-http-newer'), estimateId: randomUUID() };
    newer.createdAt = '2025-03-15T10:00:00.000Z';
    for (const record of [older, newer]) {
      record.views = record.views.map((view) => ({ ...view, features: [] }));
      saveScan(store, record, []);
    }
    const week = (await (await get('api/cases')).json()) as {
      days: number;
      cases: { caseId: string; createdAt: string; bvMl: number; labelCount: number }[];
    };
    assert.equal(week.days, 7);
    assert.deepEqual(
      week.cases.map((item) => item.caseId),
      ['case-http-newer', 'case-http-1'],
    );
    assert.equal(week.cases[0]!.createdAt, newer.createdAt);
    assert.equal(week.cases[0]!.bvMl, newer.estimate.bvMl);
    assert.equal(week.cases[0]!.labelCount, 0);
    const month = (await (await get('api/cases?days=30')).json()) as {
      cases: { caseId: string }[];
    };
    assert.deepEqual(
      month.cases.map((item) => item.caseId),
      ['case-http-newer', 'case-http-1', 'case-http-older'],
    );
  });

  for (const query of ['days=0', 'days=abc', 'days=1.5', 'days=91', 'other=1']) {
    test(`recent cases reject ${query}`, async () => {
      const response = await get(`api/cases?${query}`);
      assert.equal(response.status, 400);
      const problem = (await response.json()) as Problem;
      assert.equal(problem.code, 'invalid_request');
      assert.ok((problem.errors ?? []).length > 0, `no field error for ${query}`);
    });
  }

  test('case without HL7 link says so', async () => {
    const read = (await (await get('api/cases/case-http-1')).json()) as {
      delivery: { hl7: { state: string } };
    };
    assert.deepEqual(read.delivery.hl7, { state: 'not-configured' });
  });

  test('unknown API path is a problem', async () => {
    const response = await get('api/nothing');
    assert.equal(response.status, 404);
    assert.equal(((await response.json()) as Problem).type, 'urn:bv-edge:problem:not_found');
  });

  test('preview without frames is 503', async () => {
    const response = await get('api/preview/lumen.png');
    assert.equal(response.status, 503);
    await response.body?.cancel();
  });
});
