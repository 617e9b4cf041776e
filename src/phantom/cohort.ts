import type { Sex } from '../scan/types.ts';
import { nadlerBloodVolumeMl } from '../clinical/nadler.ts';
import { drawPhysiology } from './physiology.ts';
import { clamp, deriveSeed, mulberry32, normal, uniform, type Random } from './random.ts';

/** One synthetic patient of the training cohort. */
export interface SyntheticPatient {
  index: number;
  sex: Sex;
  heightCm: number;
  weightKg: number;
  ageYears: number;
  /** Normal blood volume for the body size by Nadler's formula, mL. */
  nadlerMl: number;
  /** True blood volume over Nadler's volume. */
  volumeState: number;
  trueBvMl: number;
  heartRateBpm: number;
  respiratoryRateBpm: number;
  /** Depth of breathing: a patient-level source of collapse that the volume state does not explain. */
  respiratoryEffort: number;
  /** Seed of this patient's clips; derive one per view from it. */
  seed: number;
}

/** Range of the true-over-normal blood volume ratio in the cohort, drawn uniformly. */
export const COHORT_VOLUME_STATE_RANGE: [number, number] = [0.75, 1.2];

function drawBody(random: Random, sex: Sex): { heightCm: number; weightKg: number } {
  const heightCm =
    sex === 'male'
      ? clamp(normal(random, 176, 7), 155, 200)
      : clamp(normal(random, 163, 6.5), 145, 185);
  const bodyMassIndex = clamp(normal(random, 26, 4), 17, 42);
  return { heightCm, weightKg: bodyMassIndex * (heightCm / 100) ** 2 };
}

/**
 * Draws a synthetic adult cohort: equal odds of either sex, heights and BMI from rough adult
 * distributions, ages 18–85, and a volume state uniform in COHORT_VOLUME_STATE_RANGE. The true
 * blood volume is Nadler's volume times the volume state.
 */
export function drawCohort(size: number, seed: number): SyntheticPatient[] {
  return Array.from({ length: size }, (_, index) => {
    const random = mulberry32(deriveSeed(seed, index));
    const sex: Sex = random.next() < 0.5 ? 'male' : 'female';
    const { heightCm, weightKg } = drawBody(random, sex);
    const ageYears = uniform(random, 18, 85);
    const volumeState = uniform(random, ...COHORT_VOLUME_STATE_RANGE);
    const nadlerMl = nadlerBloodVolumeMl({ heightCm, weightKg, sex });
    const physiology = drawPhysiology(random, volumeState);
    const respiratoryEffort = Math.exp(normal(random, 0, 0.25));
    return {
      index,
      sex,
      heightCm,
      weightKg,
      ageYears,
      nadlerMl,
      volumeState,
      trueBvMl: nadlerMl * volumeState,
      heartRateBpm: physiology.heartRateBpm,
      respiratoryRateBpm: physiology.respiratoryRateBpm,
      respiratoryEffort,
      seed: deriveSeed(seed, index, 0x5eed),
    };
  });
}
