import { z } from 'zod';

import { VIEW_NAMES } from '../core/image.ts';

/**
 * Settings of the scan workflow, with each key's default, unit and meaning. The daemon's config
 * schema embeds this object under `workflow`.
 */
export const WorkflowSettingsSchema = z.object({
  recordDurationS: z
    .number()
    .positive()
    .max(60)
    .default(6)
    .describe(
      'Length of one view recording, s. The default of 6 s covers one whole breath at a ' +
        'respiratory rate of 10 per minute or more.',
    ),
  minDurationS: z
    .number()
    .positive()
    .optional()
    .describe(
      'Shortest recording that passes the quality check, s. Default: the input window of the ' +
        "view's model (frames / rateHz in the bundle manifest).",
    ),
  requiredViews: z
    .array(z.enum(VIEW_NAMES))
    .min(1)
    .refine((views) => new Set(views).size === views.length, 'each view at most once')
    .optional()
    .describe(
      "Views a case needs before its estimate and its close. Default: the model bundle's " +
        'requiredViews. It must contain them; views the bundle lists as optional may be added.',
    ),
  frameTimeoutS: z
    .number()
    .positive()
    .default(2)
    .describe('A recording fails with no signal when no frame arrives for this long, s.'),
  maxFrozenS: z
    .number()
    .positive()
    .default(1)
    .describe(
      'A recording with a run of identical frames longer than this is frozen, s. Real scanner ' +
        'clips re-encoded at a higher frame rate repeat a frame for at most 0.1 s.',
    ),
  maxShiftFraction: z
    .number()
    .gt(0)
    .lt(0.25)
    .default(0.15)
    .describe(
      'The probe moved when the image shifts against the first frame by more than this share ' +
        'of the image area width or height; the search covers up to 0.25.',
    ),
  minSimilarity: z
    .number()
    .gt(-1)
    .lt(1)
    .default(0.3)
    .describe(
      'The probe was lifted or moved to other anatomy when a frame correlates with the first ' +
        'frame less than this after the best shift (Pearson correlation of the block-averaged ' +
        'image area, −1 to 1).',
    ),
});

export type WorkflowSettings = z.infer<typeof WorkflowSettingsSchema>;

/** Settings with every default applied, for callers that set none. */
export function defaultWorkflowSettings(): WorkflowSettings {
  return WorkflowSettingsSchema.parse({});
}
