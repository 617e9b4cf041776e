import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createStatusApp, serveStatus, type StatusServer } from '../src/http/status.ts';
import type { StatusResponse, StatusSnapshot } from '../src/http/types.ts';
import type { ScanRecord } from '../src/scan/types.ts';

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
        reasons: ['preoperative Hb not entered; cannot confirm ≥ 10 g/dL'],
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
