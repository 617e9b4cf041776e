import {
  computeAnhLabel,
  computeAnhLabels,
  type AnhLabel,
  type AnhMethod,
} from '../clinical/anh.ts';
import type { Logger } from '../core/log.ts';
import { formatAnhLabels } from './anh-format.ts';
import {
  ANH_OPTIONS,
  anhRecordFrom,
  anhSiteSettings,
  asUsageErrors,
  methodFrom,
  type AnhSiteSettings,
} from './anh-options.ts';
import { configFrom, parseCommandLine } from './common.ts';

/**
 * `bv-edge anh`: prints the blood-volume label of every ANH method the values allow, or of the
 * one given with --method. Nothing is stored. `settings` replaces the site settings of the config.
 */
export async function anhCommand(
  args: string[],
  logger: Logger,
  settings?: AnhSiteSettings,
): Promise<number> {
  const { values } = parseCommandLine(args, ANH_OPTIONS);
  const site = settings ?? anhSiteSettings(configFrom(values).clinical);
  const labels = asUsageErrors(() => computeLabels(values, site));
  logger.debug({ methods: labels.map((label) => label.method) }, 'ANH labels computed');
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ labels }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatAnhLabels(labels, site.hbDisplayUnit).join('\n')}\n`);
  }
  return 0;
}

function computeLabels(
  values: ReturnType<typeof parseCommandLine>['values'],
  settings: AnhSiteSettings,
): AnhLabel[] {
  const record = anhRecordFrom(values, settings);
  const options = { minEquilibrationMinutes: settings.minEquilibrationMinutes };
  const method = methodFrom(values);
  if (method === undefined) return computeAnhLabels(record, options);
  // computeAnhLabel rejects a name outside ANH_METHODS with anh_method_unknown.
  return [computeAnhLabel(record, method as AnhMethod, options)];
}
