import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { ScanRecord, ViewResult } from '../src/scan/types.ts';
import { runCli } from './helpers/cli.ts';
import { clip, realClipsSkip } from './helpers/data.ts';

/** No subclavian recording exists among the real clips, so the SCV view reuses a venous clip. */
const REAL_VIEWS = [
  '--view',
  `ivc=${clip('ivc/ivc-trans-collapsing.mp4')}`,
  '--seed',
  'ivc=390,380',
  '--view',
  `ijv=${clip('ijv-carotid/ijv-carotid-high-low-cvp.mp4')}`,
  '--seed',
  'ijv=140,170',
  '--view',
  `scv=${clip('ijv-carotid/ijv-carotid-high-low-cvp.mp4')}`,
  '--seed',
  'scv=442,190',
  '--view',
  `ca=${clip('artery/brachial-long-bmode-color.mov')}`,
  '--seed',
  'ca=350,245',
  // The scanner's own overlay on this clip reads D 2.5 cm.
  '--depth-cm',
  'ca=2.5',
];
const PATIENT = ['--height-cm', '172', '--weight-kg', '70', '--sex', 'male', '--age', '54'];
const REFERENCE_MANIFEST = JSON.parse(
  readFileSync(new URL('../models/reference/manifest.json', import.meta.url), 'utf8'),
) as { noticeTranslations: Record<string, string> };

/** An unused loopback port, so that publishing fails fast and the estimate stays queued. */
const NO_BROKER = ['--broker', 'mqtt://127.0.0.1:9'];

function tempHome(): string {
  return mkdtempSync(join(tmpdir(), 'bv-edge-scan-'));
}

function countRows(home: string, table: string): number {
  const db = new Database(join(home, 'bv-edge.sqlite'), { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function assertPhysical(view: ViewResult): void {
  const m = view.measurements;
  const where = `${view.view} (${view.source})`;
  assert.ok(m.trackedFraction >= 0.5, `${where}: tracked fraction ${m.trackedFraction}`);
  assert.ok(m.areaMm2.mean > 0.5, `${where}: area ${m.areaMm2.mean} mm²`);
  assert.ok(m.areaMm2.mean < 2500, `${where}: area ${m.areaMm2.mean} mm²`);
  assert.ok(m.areaMm2.min <= m.areaMm2.mean, `${where}: area min above mean`);
  assert.ok(m.areaMm2.mean <= m.areaMm2.max, `${where}: area mean above max`);
  assert.ok(
    m.apDiameterMm.max > 0.3 && m.apDiameterMm.max < 45,
    `${where}: AP ${m.apDiameterMm.max}`,
  );
  assert.ok(m.lateralDiameterMm.max > 0.3, `${where}: lateral ${m.lateralDiameterMm.max}`);
  assert.ok(m.lateralDiameterMm.max < 80, `${where}: lateral ${m.lateralDiameterMm.max}`);
  if (view.view === 'ca') {
    assert.equal(m.collapsibilityIndex, undefined, where);
    assert.ok(m.pulsatilityIndex !== undefined, `${where}: no pulsatility`);
    assert.ok(m.pulsatilityIndex >= 0, `${where}: pulsatility ${m.pulsatilityIndex}`);
    if (m.heartRateBpm !== undefined) {
      assert.ok(m.heartRateBpm >= 30, `${where}: HR ${m.heartRateBpm}`);
      assert.ok(m.heartRateBpm <= 200, `${where}: HR ${m.heartRateBpm}`);
    }
  } else {
    const ci = m.collapsibilityIndex;
    assert.ok(ci !== undefined, `${where}: no collapsibility`);
    assert.ok(ci >= 0, `${where}: collapsibility ${ci}`);
    assert.ok(ci <= 1, `${where}: collapsibility ${ci}`);
  }
  assert.ok(view.features.every(Number.isFinite), `${where}: features ${view.features}`);
}

function assertEstimate(record: ScanRecord): void {
  const e = record.estimate;
  assert.ok(Number.isFinite(e.bvMl), `bvMl ${e.bvMl}`);
  assert.ok(e.bvMl > 1500, `bvMl ${e.bvMl}`);
  assert.ok(e.bvMl < 12000, `bvMl ${e.bvMl}`);
  assert.ok(e.lowerMl < e.bvMl, `lower bound ${e.lowerMl} above ${e.bvMl}`);
  assert.ok(e.bvMl < e.upperMl, `upper bound ${e.upperMl} below ${e.bvMl}`);
  assert.ok(Math.abs(e.bvMlPerKg - e.bvMl / record.covariates.weightKg) < 1e-6);
  // Nadler 1962, male: 0.3669·1.72³ + 0.03219·70 + 0.6041 L = 4724 mL.
  assert.ok(Math.abs(e.nadlerMl - 4724) < 2, `nadlerMl ${e.nadlerMl}`);
  assert.equal(e.intendedUse, 'reference');
  assert.match(e.notice, /not for clinical use/i);
  // The estimate keeps the notice's translations of the bundle that made it.
  assert.deepEqual(e.noticeTranslations, REFERENCE_MANIFEST.noticeTranslations);
  assert.equal(e.executionProvider, 'cpu');
}

test('scan real MP4 and MOV clips', { skip: realClipsSkip }, async () => {
  const home = tempHome();
  const result = await runCli(
    ['scan', ...REAL_VIEWS, ...PATIENT, ...NO_BROKER, '--case-id', 'real-1', '--json'],
    { BV_EDGE_HOME: home },
  );
  assert.equal(result.code, 0, result.stderr);
  const record = JSON.parse(result.stdout) as ScanRecord & { delivery: { pending: number } };
  assert.equal(record.views.length, 4);
  for (const view of record.views) assertPhysical(view);
  assertEstimate(record);

  const ijv = record.views.find((view) => view.view === 'ijv')!;
  const flat = record.views.find((view) => view.view === 'scv')!;
  const ratio = ijv.measurements.areaMm2.mean / flat.measurements.areaMm2.mean;
  console.log(`distended/flat IJV area ratio ${ratio.toFixed(2)}`);
  assert.ok(ratio >= 3, `distended/flat area ratio ${ratio}`);

  assert.equal(record.delivery.pending, 1);
  assert.equal(countRows(home, 'cases'), 1);
  assert.equal(countRows(home, 'views'), 4);
  assert.equal(countRows(home, 'outbox'), 1);
});

test('scan real GIF clip', { skip: realClipsSkip }, async () => {
  const home = tempHome();
  const views = [...REAL_VIEWS];
  views[1] = `ivc=${clip('ivc/ivc-subcostal-normal.gif')}`;
  // The scanner's overlay on this clip reads 13.0 cm.
  views[3] = 'ivc=250,205';
  views.push('--depth-cm', 'ivc=13');
  const result = await runCli(['scan', ...views, ...PATIENT, ...NO_BROKER, '--json'], {
    BV_EDGE_HOME: home,
  });
  assert.equal(result.code, 0, result.stderr);
  const record = JSON.parse(result.stdout) as ScanRecord;
  const ivc = record.views.find((view) => view.view === 'ivc')!;
  assert.equal(ivc.frameCount, 60);
  assert.equal(ivc.fps, 10);
  assertPhysical(ivc);
  assertEstimate(record);
  // The image area leaves out the burned-in date (top right) and the banner (bottom left).
  const area = ivc.imageArea;
  assert.ok(area.y >= 22 || area.x + area.width <= 400, JSON.stringify(area));
  assert.ok(area.y + area.height <= 335 || area.x >= 180, JSON.stringify(area));
});

test('scan summary says the estimate is queued', { skip: realClipsSkip }, async () => {
  const home = tempHome();
  const result = await runCli(
    ['scan', ...REAL_VIEWS, ...PATIENT, '--hb', '80', '--hb-unit', 'g/L', ...NO_BROKER],
    { BV_EDGE_HOME: home },
  );
  assert.equal(result.code, 0, result.stderr);
  // 80 g/L is 8 g/dL, below the study's minimum preoperative Hb of 10 g/dL.
  assert.match(result.stdout, /Study population: outside the population the model was trained on/);
  assert.match(result.stdout, /\(preoperative Hb 8 g\/dL is below 10 g\/dL; /);
  assert.match(result.stdout, /Blood volume estimate: \d+ mL \(\d+\.\d mL\/kg\), 95 % interval/);
  assert.match(result.stdout, /Nadler formula: +4724 mL/);
  assert.match(result.stdout, /Queued for MQTT: 1 message\(s\) wait in the outbox/);
});

test('scan bad files fail without storing', { skip: realClipsSkip }, async (t) => {
  const home = tempHome();
  const notVideo = join(home, 'notes.mp4');
  writeFileSync(notVideo, 'this is a text file, not a video\n');
  const truncated = join(home, 'truncated.mp4');
  const whole = readFileSync(clip('ivc/ivc-trans-collapsing.mp4'));
  writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
  const good = join(home, 'good.mp4');
  copyFileSync(clip('ivc/ivc-trans-collapsing.mp4'), good);

  const cases: [string, string, RegExp][] = [
    ['missing file', join(home, 'missing.mp4'), /not found/],
    ['not a video', notVideo, /Cannot decode/],
    ['truncated video', truncated, /truncated/],
  ];
  for (const [name, file, expected] of cases) {
    await t.test(name, async () => {
      const views = [...REAL_VIEWS];
      // The bad file is the last view, so three good views were already processed.
      views[13] = `ca=${file}`;
      const result = await runCli(['scan', ...views, ...PATIENT, ...NO_BROKER], {
        BV_EDGE_HOME: home,
      });
      assert.equal(result.code, 1);
      const lines = result.stderr.split('\n').filter((line) => line.startsWith('bv-edge:'));
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0]!.includes(file), lines[0]);
      assert.match(lines[0]!, expected);
      assert.equal(result.stdout, '');
      assert.equal(countRows(home, 'cases'), 0);
      assert.equal(countRows(home, 'outbox'), 0);
    });
  }
});

test('scan rejects bad command lines', async (t) => {
  const home = tempHome();
  const cases: [string, string[], RegExp][] = [
    ['height in metres', ['--height-cm', '1.72'], /Invalid height 1.72 cm: expected 100–250 cm/],
    ['unknown sex', ['--sex', 'x'], /Invalid sex "x": expected female or male/],
    ['unknown view', ['--view', 'aorta=a.mp4'], /Invalid --view "aorta=a.mp4"/],
    ['bad seed', ['--seed', 'ijv=1'], /Invalid --seed "ijv=1": expected VIEW=X,Y/],
    ['case id with a name', ['--case-id', 'Jane Doe'], /Invalid --case-id "Jane Doe"/],
    ['hemoglobin too high', ['--hb', '30'], /Invalid --hb "30" g\/dL: expected 3–25 g\/dL/],
    ['unknown hemoglobin unit', ['--hb-unit', 'mg/dL'], /mg\/dL/],
  ];
  for (const [name, override, expected] of cases) {
    await t.test(name, async () => {
      const args = ['scan', '--view', 'ijv=a.mp4', ...PATIENT];
      for (let i = 0; i < override.length; i += 2) {
        const index = args.indexOf(override[i]!);
        if (index >= 0 && override[i] !== '--view') args[index + 1] = override[i + 1]!;
        else args.push(override[i]!, override[i + 1]!);
      }
      const result = await runCli(args, { BV_EDGE_HOME: home });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, expected);
    });
  }
});

test('scan seed outside the frame', { skip: realClipsSkip }, async () => {
  const home = tempHome();
  const views = [...REAL_VIEWS];
  views[3] = 'ivc=900,380';
  const result = await runCli(['scan', ...views, ...PATIENT, ...NO_BROKER], { BV_EDGE_HOME: home });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Seed ivc=900,380 is outside the 720x540 frame/);
  assert.equal(countRows(home, 'cases'), 0);
});
