import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  canonicalizeAnhRecord,
  checkPopulation,
  computeAnhLabel,
  computeAnhLabels,
  computeBmi,
  formatHeight,
  formatHemoglobin,
  formatWeight,
  heightFromCm,
  heightToCm,
  hemoglobinFromGdl,
  hemoglobinToGdl,
  KG_PER_LB,
  lemmensBloodVolumeMl,
  lemmensMlPerKg,
  nadlerBloodVolumeMl,
  OUT_OF_POPULATION_FLAG,
  parseHeightUnit,
  parseHemoglobinUnit,
  parseWeightUnit,
  weightBasedBloodVolumeMl,
  weightFromKg,
  weightToKg,
  type AnhRecord,
} from '../src/clinical/index.ts';
import { BvEdgeError } from '../src/core/errors.ts';
import type { Notice } from '../src/core/notice.ts';
import { CLINICAL_NOTICES } from '../src/notices/clinical.ts';
import type { Covariates } from '../src/scan/types.ts';

/** Hb 13 → 10 g/dL after 1000 mL net withdrawal, equilibrated, replaced 1:1, no other loss. */
const BASE: AnhRecord = {
  hbBefore: 13,
  hbAfter: 10,
  hbUnit: 'g/dL',
  withdrawnMl: 1000,
  replacementFluid: 'HES 6 %',
  replacementVolumeMl: 1000,
  urineOutputMl: 0,
  bleedingMl: 0,
  equilibrationMinutes: 20,
};

/** Runs `action` and returns the BvEdgeError it throws, failing when it throws nothing. */
function captureError(action: () => unknown): BvEdgeError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof BvEdgeError, `expected BvEdgeError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a BvEdgeError, but nothing was thrown');
}

function assertMessageIncludes(error: BvEdgeError, parts: string[]): void {
  for (const part of parts) {
    assert.ok(error.message.includes(part), `"${error.message}" should contain "${part}"`);
  }
}

// ---- units

test('hemoglobin units convert both ways', () => {
  assert.equal(hemoglobinToGdl(130, 'g/L'), 13);
  assert.equal(hemoglobinFromGdl(13, 'g/L'), 130);
  assert.ok(Math.abs(hemoglobinToGdl(8.0678, 'mmol/L') - 13) < 1e-9);
  assert.ok(Math.abs(hemoglobinFromGdl(10, 'mmol/L') - 6.206) < 1e-9);
  assert.equal(hemoglobinToGdl(12.5, 'g/dL'), 12.5);
});

test('height and weight convert m and lb', () => {
  assert.equal(heightToCm(1.75, 'm'), 175);
  assert.equal(heightFromCm(175, 'm'), 1.75);
  assert.equal(heightToCm(175, 'cm'), 175);
  assert.equal(KG_PER_LB, 0.45359237);
  assert.equal(weightToKg(100, 'lb'), 45.359237);
  assert.ok(Math.abs(weightFromKg(45.359237, 'lb') - 100) < 1e-9);
  assert.equal(weightToKg(70, 'kg'), 70);
});

test('unit strings parse strictly', () => {
  assert.equal(parseHemoglobinUnit('g/dL'), 'g/dL');
  assert.equal(parseHemoglobinUnit('g/L'), 'g/L');
  assert.equal(parseHemoglobinUnit('mmol/L'), 'mmol/L');
  assert.equal(parseHeightUnit('m'), 'm');
  assert.equal(parseWeightUnit('lb'), 'lb');
  for (const [parse, text] of [
    [parseHemoglobinUnit, 'g/dl'],
    [parseHeightUnit, 'in'],
    [parseWeightUnit, 'lbs'],
  ] as const) {
    const error = captureError(() => parse(text));
    assert.equal(error.code, 'unit_unknown');
    assertMessageIncludes(error, [`"${text}"`]);
  }
});

test('unknown unit mg/dL rejected', () => {
  const error = captureError(() => parseHemoglobinUnit('mg/dL'));
  assert.equal(error.code, 'unit_unknown');
  assertMessageIncludes(error, ['"mg/dL"', 'g/dL, g/L, mmol/L']);
});

test('formatters use display units', () => {
  assert.equal(formatHemoglobin(13, 'g/dL'), '13.0 g/dL');
  assert.equal(formatHemoglobin(13, 'g/L'), '130 g/L');
  assert.equal(formatHemoglobin(13, 'mmol/L'), '8.1 mmol/L');
  assert.equal(formatHeight(175, 'm'), '1.75 m');
  assert.equal(formatHeight(175, 'cm'), '175 cm');
  assert.equal(formatWeight(70, 'lb'), '154 lb');
  assert.equal(formatWeight(70, 'kg'), '70.0 kg');
});

// ---- ANH labels

test('ANH single-step and continuous exchange', () => {
  const single = computeAnhLabel(BASE, 'single-step');
  const continuous = computeAnhLabel(BASE, 'continuous-exchange');
  assert.equal(Math.round(single.bvMl), 4333);
  assert.equal(Math.round(continuous.bvMl), 3811);
  assert.equal(single.method, 'single-step');
  assert.deepEqual(single.warnings, []);
  assert.equal(single.inputsCanonical.hbBeforeGdl, 13);
  assert.equal(single.inputsCanonical.withdrawnNetMl, 1000);
  assert.equal(single.inputsCanonical.replacementFluid, 'HES 6 %');
});

test('ANH label same in every Hb unit', () => {
  const records: AnhRecord[] = [
    BASE,
    { ...BASE, hbBefore: 130, hbAfter: 100, hbUnit: 'g/L' },
    { ...BASE, hbBefore: 8.0678, hbAfter: 6.206, hbUnit: 'mmol/L' },
  ];
  for (const record of records) {
    const labels = computeAnhLabels(record);
    assert.deepEqual(
      labels.map((label) => label.method),
      ['single-step', 'continuous-exchange'],
    );
    assert.equal(Math.round(labels[0]?.bvMl ?? NaN), 4333, record.hbUnit);
    assert.equal(Math.round(labels[1]?.bvMl ?? NaN), 3811, record.hbUnit);
    assert.equal(labels[0]?.inputsCanonical.hbUnitEntered, record.hbUnit);
  }
});

test('ANH bag method with two bags', () => {
  // Two standard bags: 450 mL blood + 63 mL CPD each, Hb measured on the mixed bag content.
  const record: AnhRecord = {
    ...BASE,
    withdrawnMl: undefined,
    bags: [
      { volumeMl: 513, hb: 11.4 },
      { volumeMl: 513, hb: 10.6 },
    ],
    replacementVolumeMl: 900,
  };
  const label = computeAnhLabel(record, 'bag-hemoglobin');
  // (513 · 11.4 + 513 · 10.6) / (13 − 10) = 11 286 / 3 = 3762 mL.
  assert.equal(Math.round(label.bvMl), 3762);
  assert.equal(label.inputsCanonical.withdrawnNetMl, 900);

  const methods = computeAnhLabels(record).map((each) => each.method);
  assert.deepEqual(methods, ['single-step', 'continuous-exchange', 'bag-hemoglobin']);
});

test('ANH anticoagulant subtracted from bags', () => {
  const bags = [{ volumeMl: 513 }, { volumeMl: 513 }];
  const record: AnhRecord = { ...BASE, withdrawnMl: undefined, bags, replacementVolumeMl: 1000 };

  const byDefault = canonicalizeAnhRecord(record);
  assert.equal(byDefault.anticoagulantMlPerBag, 63);
  assert.equal(byDefault.withdrawnNetMl, 900);
  assert.deepEqual(
    byDefault.bags.map((bag) => bag.netMl),
    [450, 450],
  );
  // 900 · 13 / 3 = 3900 mL.
  assert.equal(Math.round(computeAnhLabel(record, 'single-step').bvMl), 3900);

  const noAnticoagulant = canonicalizeAnhRecord({ ...record, anticoagulantMlPerBag: 0 });
  assert.equal(noAnticoagulant.withdrawnNetMl, 1026);

  const bigBags = canonicalizeAnhRecord({
    ...record,
    bags: [{ volumeMl: 570 }],
    anticoagulantMlPerBag: 70,
  });
  assert.equal(bigBags.withdrawnNetMl, 500);
});

test('ANH all labels skip bags lacking Hb', () => {
  const record: AnhRecord = {
    ...BASE,
    withdrawnMl: undefined,
    bags: [{ volumeMl: 513, hb: 11.4 }, { volumeMl: 513 }],
  };
  const labels = computeAnhLabels(record);
  assert.deepEqual(
    labels.map((label) => label.method),
    ['single-step', 'continuous-exchange'],
  );
  const notComputed = findNotice(labels[0]?.warnings, 'notice.anh.bagHbNotComputed');
  assert.deepEqual(notComputed.params, { fields: 'bags[1].hb' });
  assert.equal(notComputed.text, 'bag-hemoglobin label not computed: bags[1].hb not entered.');
});

test('ANH bleeding counted as loss', () => {
  const record: AnhRecord = { ...BASE, bleedingMl: 200, replacementVolumeMl: 1200 };
  const label = computeAnhLabel(record, 'single-step');
  // (1000 + 200) · 13 / 3 = 5200 mL.
  assert.equal(Math.round(label.bvMl), 5200);
  const bleeding = findNotice(label.warnings, 'notice.anh.bleeding');
  assert.deepEqual(bleeding.params, { value: 200 });
  assertIncludes(bleeding.text, ['bleeding 200 mL', 'less certain']);
});

test('ANH short replacement warns', () => {
  const record: AnhRecord = { ...BASE, replacementVolumeMl: 800, urineOutputMl: 100 };
  const label = computeAnhLabel(record, 'single-step');
  assert.equal(label.warnings.length, 1);
  assert.equal(label.warnings[0]?.key, 'notice.anh.replacementShort');
  assert.deepEqual(label.warnings[0]?.params, { value: 800, losses: 1100 });
  assertIncludes(label.warnings[0]?.text, [
    'replacement 800 mL',
    'losses of 1100 mL',
    'overestimate',
  ]);

  const missing = computeAnhLabel({ ...BASE, replacementVolumeMl: undefined }, 'single-step');
  assert.deepEqual(missing.warnings, [
    {
      key: 'notice.anh.replacementMissing',
      params: {},
      text: 'replacement volume not entered; cannot confirm normovolemia at the second sample.',
    },
  ]);
});

test('ANH equilibration warning', () => {
  const short = computeAnhLabel({ ...BASE, equilibrationMinutes: 10 }, 'single-step');
  assert.equal(Math.round(short.bvMl), 4333);
  assert.equal(short.warnings.length, 1);
  assert.equal(short.warnings[0]?.key, 'notice.anh.equilibrationShort');
  assert.deepEqual(short.warnings[0]?.params, { value: 10, min: 15 });
  assertIncludes(short.warnings[0]?.text, ['10 min', 'site minimum of 15 min']);

  const sitePolicy = computeAnhLabel(BASE, 'single-step', { minEquilibrationMinutes: 30 });
  assert.deepEqual(sitePolicy.warnings[0]?.params, { value: 20, min: 30 });
  assertIncludes(sitePolicy.warnings[0]?.text, ['20 min', 'site minimum of 30 min']);

  const missing = computeAnhLabel({ ...BASE, equilibrationMinutes: undefined }, 'single-step');
  assert.equal(missing.warnings[0]?.key, 'notice.anh.equilibrationMissing');
  assert.deepEqual(missing.warnings[0]?.params, { min: 15 });
  assertIncludes(missing.warnings[0]?.text, ['equilibration time not entered']);

  assert.deepEqual(computeAnhLabel(BASE, 'single-step').warnings, []);
});

test('ANH warns of suspicious Hb', () => {
  const cases: [Partial<AnhRecord>, Notice][] = [
    [
      { hbBefore: 19, hbAfter: 15, withdrawnMl: 1000 },
      {
        key: 'notice.anh.hbRare',
        params: { field: 'hbBefore', value: 19, limit: 18 },
        text: 'hbBefore 19 g/dL is above 18 g/dL, which is rare. Check the value and the Hb unit.',
      },
    ],
    [
      { hbBefore: 190, hbAfter: 150, hbUnit: 'g/L', withdrawnMl: 1000 },
      {
        key: 'notice.anh.hbRareConverted',
        params: { field: 'hbBefore', value: 190, unit: 'g/L', gdl: 19, limit: 18 },
        text:
          'hbBefore 190 g/L (19 g/dL) is above 18 g/dL, which is rare. Check the value and ' +
          'the Hb unit.',
      },
    ],
    [
      { hbBefore: 13, hbAfter: 10, hbUnit: 'mmol/L' },
      {
        key: 'notice.anh.hbLooksLikeGdl',
        params: {
          field: 'hbBefore',
          value: 13,
          gdl: Math.round(hemoglobinToGdl(13, 'mmol/L') * 10) / 10,
          limit: 12,
        },
        text:
          `hbBefore 13 mmol/L (${Math.round(hemoglobinToGdl(13, 'mmol/L') * 10) / 10} g/dL) is ` +
          'above 12 mmol/L and looks like a value in g/dL. Check the Hb unit and enter the ' +
          'record again if it is wrong.',
      },
    ],
  ];
  for (const [change, expected] of cases) {
    const label = computeAnhLabel({ ...BASE, ...change }, 'single-step');
    assert.deepEqual(label.warnings, [expected], `warnings of ${JSON.stringify(change)}`);
  }
});

/** Returns the one notice of `key` in `notices`, failing the test when there is none. */
function findNotice(notices: readonly Notice[] | undefined, key: string): Notice {
  const found = notices?.filter((item) => item.key === key) ?? [];
  assert.equal(found.length, 1, `one ${key} among ${JSON.stringify(notices)}`);
  return found[0]!;
}

function assertIncludes(text: string | undefined, parts: string[]): void {
  assert.ok(text !== undefined, 'expected a warning, got none');
  for (const part of parts) {
    assert.ok(text.includes(part), `"${text}" should contain "${part}"`);
  }
}

// ---- ANH rejections

test('ANH rejects Hb after not below before', () => {
  for (const hbAfter of [13, 14]) {
    const error = captureError(() => computeAnhLabel({ ...BASE, hbAfter }, 'single-step'));
    assert.equal(error.code, 'anh_record_invalid');
    assertMessageIncludes(error, [`hbAfter ${hbAfter} g/dL`, 'less than hbBefore 13 g/dL']);
    assert.equal(error.notice?.key, 'notice.anh.hbNotLower');
    assert.deepEqual(error.notice?.params, { after: hbAfter, before: 13, unit: 'g/dL' });
    assert.equal(error.notice?.text, error.message);
  }
});

test('ANH rejects Hb outside 3–25 g/dL', () => {
  const cases: [Partial<AnhRecord>, string[]][] = [
    [{ hbAfter: 2 }, ['hbAfter 2 g/dL', '3–25 g/dL']],
    [{ hbBefore: 26 }, ['hbBefore 26 g/dL', '3–25 g/dL']],
    [{ hbBefore: 260, hbAfter: 100, hbUnit: 'g/L' }, ['hbBefore 260 g/L', '30–250 g/L']],
    [{ hbBefore: 8, hbAfter: 1.2, hbUnit: 'mmol/L' }, ['hbAfter 1.2 mmol/L', '1.86–15.5']],
  ];
  for (const [change, parts] of cases) {
    const error = captureError(() => computeAnhLabel({ ...BASE, ...change }, 'single-step'));
    assert.equal(error.code, 'anh_record_invalid');
    assertMessageIncludes(error, parts);
    assert.equal(error.notice?.text, error.message);
  }

  const gdl = captureError(() => computeAnhLabel({ ...BASE, hbAfter: 2 }, 'single-step'));
  assert.equal(gdl.notice?.key, 'notice.anh.outside');
  assert.deepEqual(gdl.notice?.params, {
    field: 'hbAfter',
    value: 2,
    unit: 'g/dL',
    min: 3,
    max: 25,
  });
  const mmol = captureError(() =>
    computeAnhLabel({ ...BASE, hbBefore: 8, hbAfter: 1.2, hbUnit: 'mmol/L' }, 'single-step'),
  );
  assert.equal(mmol.notice?.key, 'notice.anh.hbOutsideConverted');
  assert.deepEqual(mmol.notice?.params, {
    field: 'hbAfter',
    value: 1.2,
    unit: 'mmol/L',
    min: 1.86,
    max: 15.52,
    minGdl: 3,
    maxGdl: 25,
  });
});

test('ANH rejects withdrawn volume out of range', () => {
  for (const withdrawnMl of [0, -5, 3500]) {
    const error = captureError(() => computeAnhLabel({ ...BASE, withdrawnMl }, 'single-step'));
    assert.equal(error.code, 'anh_record_invalid');
    assertMessageIncludes(error, [
      `withdrawnMl ${withdrawnMl} mL`,
      'more than 0 and at most 3000 mL',
    ]);
    assert.equal(error.notice?.key, 'notice.anh.outsideExclusive');
    assert.deepEqual(error.notice?.params, {
      field: 'withdrawnMl',
      value: withdrawnMl,
      unit: 'mL',
      min: 0,
      max: 3000,
    });
  }
});

test('ANH rejects unknown Hb unit', () => {
  const error = captureError(() => computeAnhLabel({ ...BASE, hbUnit: 'mg/dL' }, 'single-step'));
  assert.equal(error.code, 'anh_record_invalid');
  assertMessageIncludes(error, ['hbUnit "mg/dL"', 'g/dL, g/L, mmol/L']);
  assert.equal(error.notice?.key, 'notice.anh.unitInvalid');
  assert.deepEqual(error.notice?.params, { value: 'mg/dL', units: 'g/dL, g/L, mmol/L' });
});

test('ANH rejects missing bag Hb', () => {
  const record: AnhRecord = {
    ...BASE,
    withdrawnMl: undefined,
    bags: [{ volumeMl: 513, hb: 11.4 }, { volumeMl: 513 }],
  };
  const error = captureError(() => computeAnhLabel(record, 'bag-hemoglobin'));
  assert.equal(error.code, 'anh_record_invalid');
  assertMessageIncludes(error, ['Missing bags[1].hb', 'in g/dL']);
  assert.ok(!error.message.includes('bags[0]'), error.message);
  assert.equal(error.notice?.key, 'notice.anh.bagHbMissing');
  assert.deepEqual(error.notice?.params, { field: 'bags[1].hb', unit: 'g/dL' });

  const withoutBags = captureError(() => computeAnhLabel(BASE, 'bag-hemoglobin'));
  assertMessageIncludes(withoutBags, ['Missing bags']);
});

test('ANH rejects non-finite numbers', () => {
  const cases: [Partial<AnhRecord>, string][] = [
    [{ hbBefore: NaN }, 'hbBefore NaN'],
    [{ hbAfter: Infinity }, 'hbAfter Infinity'],
    [{ withdrawnMl: NaN }, 'withdrawnMl NaN'],
    [{ bleedingMl: -Infinity }, 'bleedingMl -Infinity'],
    [{ equilibrationMinutes: NaN }, 'equilibrationMinutes NaN'],
  ];
  for (const [change, part] of cases) {
    const error = captureError(() => computeAnhLabel({ ...BASE, ...change }, 'single-step'));
    assertMessageIncludes(error, [part, 'finite number']);
    assert.equal(error.notice?.key, 'notice.anh.notNumber');
    assert.equal(error.notice?.params.value, part.split(' ')[1], 'non-finite value as text');
  }
});

test('ANH rejects bad bags and volumes', () => {
  const cases: [Partial<AnhRecord>, string[]][] = [
    [{ bags: [{ volumeMl: 50 }] }, ['bags[0].volumeMl 50 mL', '63 mL of anticoagulant']],
    [{ bags: [{ volumeMl: 800 }] }, ['bags[0].volumeMl 800 mL', 'at most 700 mL']],
    [{ bags: [] }, ['Missing bags']],
    [{ anticoagulantMlPerBag: 150, bags: [{ volumeMl: 500 }] }, ['anticoagulantMlPerBag 150 mL']],
    [{ replacementVolumeMl: -1 }, ['replacementVolumeMl -1 mL', '0–10000 mL']],
    [{ urineOutputMl: 9000 }, ['urineOutputMl 9000 mL', '0–5000 mL']],
  ];
  for (const [change, parts] of cases) {
    const record: AnhRecord = { ...BASE, ...change };
    if (change.bags !== undefined) delete record.withdrawnMl;
    const error = captureError(() => computeAnhLabel(record, 'single-step'));
    assertMessageIncludes(error, parts);
  }

  const both = captureError(() => canonicalizeAnhRecord({ ...BASE, bags: [{ volumeMl: 513 }] }));
  assertMessageIncludes(both, ['withdrawnMl or bags, not both']);

  const neither = captureError(() => canonicalizeAnhRecord({ ...BASE, withdrawnMl: undefined }));
  assertMessageIncludes(neither, ['Missing withdrawnMl']);
});

test('ANH collects every problem', () => {
  const error = captureError(() =>
    computeAnhLabel({ ...BASE, hbBefore: 2, withdrawnMl: 3500, urineOutputMl: -1 }, 'single-step'),
  );
  assertMessageIncludes(error, ['hbBefore 2 g/dL', 'withdrawnMl 3500 mL', 'urineOutputMl -1 mL']);
  // The notice is the first problem's, with the count, and its text lists every problem.
  assert.equal(error.notice?.key, 'notice.anh.outside');
  assert.deepEqual(error.notice?.params, {
    field: 'hbBefore',
    value: 2,
    unit: 'g/dL',
    min: 3,
    max: 25,
    count: 3,
  });
  assert.equal(error.notice?.text, error.message);
});

test('ANH label outside plausible range', () => {
  // 1000 mL at 13 → 12.9 g/dL gives 130 000 mL by single-step.
  const error = captureError(() => computeAnhLabel({ ...BASE, hbAfter: 12.9 }, 'single-step'));
  assert.equal(error.code, 'anh_record_invalid');
  assert.equal(error.notice?.key, 'notice.anh.labelOutside');
  assert.deepEqual(error.notice?.params, {
    method: 'single-step',
    value: 130000,
    min: 1000,
    max: 15000,
  });
  assertMessageIncludes(error, ['The single-step label comes out at 130000 mL', '1000–15000 mL']);
});

test('ANH rejects unknown method', () => {
  const method = 'dilution' as Parameters<typeof computeAnhLabel>[1];
  const error = captureError(() => computeAnhLabel(BASE, method));
  assert.equal(error.code, 'anh_method_unknown');
  assertMessageIncludes(error, ['"dilution"', 'single-step, continuous-exchange, bag-hemoglobin']);
  assert.equal(error.notice?.key, 'notice.anh.methodUnknown');
  assert.deepEqual(error.notice?.params, {
    value: 'dilution',
    methods: 'single-step, continuous-exchange, bag-hemoglobin',
  });
});

// ---- population

const IN_POPULATION: Covariates = { heightCm: 175, weightKg: 70, sex: 'male', ageYears: 50 };

test('population accepts typical patient', () => {
  const result = checkPopulation({ covariates: IN_POPULATION, hbBeforeGdl: 13 });
  assert.equal(result.inPopulation, true);
  assert.deepEqual(result.reasons, []);
});

test('population flags BMI 32', () => {
  // 98 kg / 1.75² = 32.0 kg/m².
  const covariates = { ...IN_POPULATION, weightKg: 98 };
  const result = checkPopulation({ covariates, hbBeforeGdl: 13 });
  assert.equal(result.inPopulation, false);
  assert.deepEqual(result.reasons, [
    {
      key: 'notice.population.bmiOutside',
      params: { value: 32, min: 18, max: 30 },
      text: 'BMI 32 kg/m² is outside 18–30 kg/m²',
    },
  ]);
});

test('population flags age 80', () => {
  const covariates = { ...IN_POPULATION, ageYears: 80 };
  const result = checkPopulation({ covariates, hbBeforeGdl: 13 });
  assert.equal(result.inPopulation, false);
  assert.deepEqual(result.reasons, [
    {
      key: 'notice.population.ageOutside',
      params: { value: 80, min: 18, max: 75 },
      text: 'age 80 years is outside 18–75 years',
    },
  ]);
});

test('population flags Hb 9 g/dL', () => {
  const result = checkPopulation({ covariates: IN_POPULATION, hbBeforeGdl: 9 });
  assert.equal(result.inPopulation, false);
  assert.deepEqual(result.reasons, [
    {
      key: 'notice.population.hbBelow',
      params: { value: 9, min: 10 },
      text: 'preoperative Hb 9 g/dL is below 10 g/dL',
    },
  ]);
});

test('population flags missing age and Hb', () => {
  const { heightCm, weightKg, sex } = IN_POPULATION;
  const result = checkPopulation({ covariates: { heightCm, weightKg, sex } });
  assert.equal(result.inPopulation, false);
  assert.deepEqual(result.reasons, [
    {
      key: 'notice.population.ageMissing',
      params: { min: 18, max: 75 },
      text: 'age not entered; cannot confirm 18–75 years',
    },
    {
      key: 'notice.population.hbMissing',
      params: { min: 10 },
      text: 'preoperative Hb not entered; cannot confirm ≥ 10 g/dL',
    },
  ]);
});

test('population flags non-numeric age and Hb', () => {
  const covariates = { ...IN_POPULATION, ageYears: Number.NaN };
  const result = checkPopulation({ covariates, hbBeforeGdl: Number.POSITIVE_INFINITY });
  assert.equal(result.inPopulation, false);
  assert.deepEqual(result.reasons, [
    {
      key: 'notice.population.ageInvalid',
      params: { value: 'NaN', min: 18, max: 75 },
      text: 'age NaN is not a number; cannot confirm 18–75 years',
    },
    {
      key: 'notice.population.hbInvalid',
      params: { value: 'Infinity', min: 10 },
      text: 'preoperative Hb Infinity is not a number; cannot confirm ≥ 10 g/dL',
    },
  ]);
  // JSON stores NaN as null, so the value travels as text.
  assert.deepEqual(JSON.parse(JSON.stringify(result.reasons)), result.reasons);
});

test('clinical notices same placeholders in Chinese', () => {
  const placeholders = (template: string) => [...template.matchAll(/\{[^}]+\}/g)].sort().join();
  const english: Record<string, string> = CLINICAL_NOTICES.en;
  const chinese: Record<string, string> = CLINICAL_NOTICES['zh-CN'];
  assert.deepEqual(Object.keys(chinese).sort(), Object.keys(english).sort());
  for (const [key, template] of Object.entries(english)) {
    assert.equal(placeholders(chinese[key]!), placeholders(template), `placeholders of ${key}`);
    assert.ok(
      !/[;:(),]/.test(chinese[key]!.replace(/\{[^}]+\}/g, '')),
      `ASCII punctuation in ${key}`,
    );
  }
});

test('population bounds are inclusive', () => {
  // 91.875 kg / 1.75² = 30.0 kg/m² exactly; age 18 and 75 and Hb 10 are inside.
  for (const ageYears of [18, 75]) {
    const covariates = { ...IN_POPULATION, ageYears, weightKg: 91.875 };
    assert.equal(checkPopulation({ covariates, hbBeforeGdl: 10 }).inPopulation, true);
  }
  assert.equal(OUT_OF_POPULATION_FLAG, 'outside the population the model was trained on');
});

test('BMI from cm and kg', () => {
  assert.ok(Math.abs(computeBmi(175, 70) - 22.857) < 1e-3);
  const error = captureError(() => computeBmi(0, 70));
  assertMessageIncludes(error, ['height 0 cm']);
});

// ---- weight-based and Nadler

test('weight-based default and configurable', () => {
  assert.equal(weightBasedBloodVolumeMl(70), 4900);
  assert.equal(weightBasedBloodVolumeMl(70, 65), 4550);
  const error = captureError(() => weightBasedBloodVolumeMl(70, 0.07));
  assertMessageIncludes(error, ['mlPerKg 0.07 mL/kg', '30–120 mL/kg']);
  const weightError = captureError(() => weightBasedBloodVolumeMl(-1));
  assertMessageIncludes(weightError, ['weight -1 kg']);
});

test('Lemmens equals 70 mL/kg at BMI 22', () => {
  assert.equal(lemmensMlPerKg(22), 70);
  // BMI 44: 70 / √2 = 49.50 mL/kg.
  assert.ok(Math.abs(lemmensMlPerKg(44) - 49.497) < 1e-3);
  // 175 cm, 134.75 kg is BMI 44.0, so 134.75 · 49.497 = 6670 mL.
  assert.equal(Math.round(lemmensBloodVolumeMl({ heightCm: 175, weightKg: 134.75 })), 6670);
});

test('Nadler reference patients', () => {
  // Male 0.3669 · 1.75³ + 0.03219 · 70 + 0.6041 = 4.824 L; female with 1.65 m, 60 kg 3.768 L.
  const male = nadlerBloodVolumeMl({ heightCm: 175, weightKg: 70, sex: 'male' });
  const female = nadlerBloodVolumeMl({ heightCm: 165, weightKg: 60, sex: 'female' });
  assert.ok(Math.abs(male - 4824) <= 1, `male ${male} mL`);
  assert.ok(Math.abs(female - 3768) <= 1, `female ${female} mL`);
});
