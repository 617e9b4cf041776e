import { parseCovariates } from '../clinical/covariates.ts';
import {
  hemoglobinFromGdl,
  hemoglobinToGdl,
  parseHemoglobinUnit,
  type HemoglobinUnit,
} from '../clinical/units.ts';
import { parseDecimal } from '../core/numbers.ts';
import { isViewName, VIEW_NAMES, type Point, type ViewName } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import { App } from '../app.ts';
import { formatScanReport } from '../scan/report.ts';
import type { ViewInput } from '../scan/view-scan.ts';
import { configFrom, parseCommandLine, UsageError } from './common.ts';

export async function scanCommand(args: string[], logger: Logger): Promise<number> {
  const { values } = parseCommandLine(args, {
    view: { type: 'string', multiple: true },
    seed: { type: 'string', multiple: true },
    'depth-cm': { type: 'string', multiple: true },
    'height-cm': { type: 'string' },
    'weight-kg': { type: 'string' },
    sex: { type: 'string' },
    age: { type: 'string' },
    hb: { type: 'string' },
    'hb-unit': { type: 'string' },
    'case-id': { type: 'string' },
    json: { type: 'boolean' },
    broker: { type: 'string' },
    'data-dir': { type: 'string' },
    'model-dir': { type: 'string' },
  });
  const covariates = parseCovariates({
    heightCm: values['height-cm'] as string | undefined,
    weightKg: values['weight-kg'] as string | undefined,
    sex: values.sex as string | undefined,
    ageYears: values.age as string | undefined,
  });
  const hbPreopGdl = parsePreoperativeHb(
    values.hb as string | undefined,
    (values['hb-unit'] as string | undefined) ?? 'g/dL',
  );
  const views = parseViews(
    values.view as string[] | undefined,
    values.seed as string[] | undefined,
    values['depth-cm'] as string[] | undefined,
  );
  const config = configFrom(values);
  const caseId = values['case-id'] as string | undefined;
  if (caseId !== undefined) checkCaseId(caseId);

  const app = new App(config, logger);
  try {
    await app.open();
    const { record, delivery } = await app.scan({ caseId, covariates, hbPreopGdl, views });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...record, delivery }, null, 2)}\n`);
    } else {
      process.stdout.write(`${formatScanReport(record, delivery, config.mqtt.url)}\n`);
    }
    return 0;
  } finally {
    await app.close();
  }
}

/** Preoperative hemoglobin, converted to g/dL; the study requires 3–25 g/dL as entered values. */
function parsePreoperativeHb(value: string | undefined, unitText: string): number | undefined {
  let unit: HemoglobinUnit;
  try {
    unit = parseHemoglobinUnit(unitText);
  } catch (cause) {
    throw new UsageError(`Invalid --hb-unit: ${(cause as Error).message}`);
  }
  if (value === undefined) return undefined;
  const entered = parseDecimal(value);
  if (!Number.isFinite(entered)) {
    throw new UsageError(`Invalid --hb "${value}": expected a number in ${unit}.`);
  }
  const gdl = hemoglobinToGdl(entered, unit);
  if (gdl < 3 || gdl > 25) {
    const low = +hemoglobinFromGdl(3, unit).toFixed(2);
    const high = +hemoglobinFromGdl(25, unit).toFixed(2);
    throw new UsageError(`Invalid --hb "${value}" ${unit}: expected ${low}–${high} ${unit}.`);
  }
  return gdl;
}

/** Checks that a case id is pseudonymous: letters, digits, dot, dash and underscore only. */
function checkCaseId(caseId: string): void {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(caseId)) {
    throw new UsageError(
      `Invalid --case-id "${caseId}": use 1–64 letters, digits, ".", "-" or "_" ` +
        '(a study code, never a name or MRN).',
    );
  }
}

function parseViews(
  viewArgs: string[] | undefined,
  seedArgs: string[] | undefined,
  depthArgs: string[] | undefined,
): ViewInput[] {
  if (!viewArgs || viewArgs.length === 0) {
    throw new UsageError(`Missing --view VIEW=FILE (views: ${VIEW_NAMES.join(', ')}).`);
  }
  const seeds = new Map<ViewName, Point>();
  for (const arg of seedArgs ?? []) {
    const [view, value] = splitViewArg('--seed', arg);
    const match = /^(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)$/.exec(value);
    if (!match) throw new UsageError(`Invalid --seed "${arg}": expected VIEW=X,Y in pixels.`);
    seeds.set(view, { x: Number(match[1]), y: Number(match[2]) });
  }
  const depths = new Map<ViewName, number>();
  for (const arg of depthArgs ?? []) {
    const [view, value] = splitViewArg('--depth-cm', arg);
    const depth = Number(value);
    if (!Number.isFinite(depth) || depth < 1 || depth > 30) {
      throw new UsageError(`Invalid --depth-cm "${arg}": expected VIEW=N with N in 1–30 cm.`);
    }
    depths.set(view, depth);
  }
  const inputs = viewArgs.map((arg) => {
    const [view, path] = splitViewArg('--view', arg);
    if (path === '') throw new UsageError(`Invalid --view "${arg}": the file path is empty.`);
    return { view, path, seed: seeds.get(view), depthCm: depths.get(view) };
  });
  for (const view of [...seeds.keys(), ...depths.keys()]) {
    if (!inputs.some((input) => input.view === view)) {
      throw new UsageError(`--seed or --depth-cm names view ${view}, which has no --view.`);
    }
  }
  return inputs;
}

function splitViewArg(option: string, arg: string): [ViewName, string] {
  const index = arg.indexOf('=');
  const view = index < 0 ? arg : arg.slice(0, index);
  if (index < 0 || !isViewName(view)) {
    throw new UsageError(
      `Invalid ${option} "${arg}": expected VIEW=... with VIEW one of ${VIEW_NAMES.join(', ')}.`,
    );
  }
  return [view, arg.slice(index + 1)];
}
