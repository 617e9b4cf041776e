import type { ViewName } from '../core/image.ts';
import { clamp, normal, type Random } from './random.ts';

/**
 * Size, position and dynamics of one vessel in the phantom. Lengths are fractions of the image
 * height, so a clip looks the same at any resolution.
 */
export interface VesselAnatomy {
  kind: 'vein' | 'artery';
  /** Lumen centre as fractions of image width and height. */
  centreX: number;
  centreY: number;
  /** Maximum AP (vertical) lumen diameter at volume state 1, fraction of image height. */
  apDiameter: number;
  /** Lateral over AP diameter of the relaxed lumen. */
  lateralToAp: number;
  /** Imaging depth that the full image height represents, mm; sets `mmPerPixel` in the truth. */
  imageDepthMm: number;
  /**
   * Respiratory collapsibility (Dmax − Dmin)/Dmax at volume state 1, its increase per unit of
   * volume lost (1 − volumeState), and its range. Zero for the artery.
   */
  collapsibilityAtNormal: number;
  collapsibilityPerVolumeLoss: number;
  collapsibilityRange: [number, number];
  /** Cardiac change of the diameter as a fraction of it: venous pulsation or arterial distension. */
  cardiacAmplitude: number;
}

/**
 * Phantom vessels. The IVC collapses most with breathing, then the IJV, then the SCV, and the
 * common carotid artery only pulses. The numbers are plausible adult values, not fitted to data.
 */
export const VESSEL_ANATOMY: Record<ViewName, VesselAnatomy> = {
  ijv: {
    kind: 'vein',
    centreX: 0.42,
    centreY: 0.42,
    apDiameter: 0.24,
    lateralToAp: 1.35,
    imageDepthMm: 40,
    collapsibilityAtNormal: 0.15,
    collapsibilityPerVolumeLoss: 1.0,
    collapsibilityRange: [0.04, 0.7],
    cardiacAmplitude: 0.04,
  },
  scv: {
    kind: 'vein',
    centreX: 0.5,
    centreY: 0.45,
    apDiameter: 0.18,
    lateralToAp: 1.2,
    imageDepthMm: 50,
    collapsibilityAtNormal: 0.1,
    collapsibilityPerVolumeLoss: 0.75,
    collapsibilityRange: [0.03, 0.55],
    cardiacAmplitude: 0.03,
  },
  ivc: {
    kind: 'vein',
    centreX: 0.5,
    centreY: 0.5,
    apDiameter: 0.13,
    lateralToAp: 1.25,
    imageDepthMm: 160,
    collapsibilityAtNormal: 0.25,
    collapsibilityPerVolumeLoss: 1.6,
    collapsibilityRange: [0.05, 0.85],
    cardiacAmplitude: 0.05,
  },
  ca: {
    kind: 'artery',
    centreX: 0.55,
    centreY: 0.5,
    apDiameter: 0.17,
    lateralToAp: 1.0,
    imageDepthMm: 40,
    collapsibilityAtNormal: 0,
    collapsibilityPerVolumeLoss: 0,
    collapsibilityRange: [0, 0],
    cardiacAmplitude: 0.09,
  },
};

/** Patient-level quantities shared by all views of one phantom patient. */
export interface PhantomPhysiology {
  heartRateBpm: number;
  respiratoryRateBpm: number;
  /** Phase of breathing and of the heartbeat at t = 0, in cycles (0–1). */
  respiratoryPhase: number;
  cardiacPhase: number;
  /** Vessel-to-vessel scale of size, about 1. */
  sizeScale: number;
  /** Vessel-to-vessel scale of the dynamic change (venous collapse or arterial distension), about 1. */
  dynamicsScale: number;
  /** Depth of breathing, multiplying the respiratory collapse; shared by a patient's views. */
  respiratoryEffort: number;
}

/**
 * Draws the physiology of one phantom vessel view. Lower volume states raise heart and breathing
 * rates. The caller may fix the patient-level quantities (both rates and the respiratory
 * effort, 1 unless given) so that they are shared by the views of one patient.
 */
export function drawPhysiology(
  random: Random,
  volumeState: number,
  fixed: { heartRateBpm?: number; respiratoryRateBpm?: number; respiratoryEffort?: number } = {},
): PhantomPhysiology {
  const volumeLoss = 1 - volumeState;
  const heartRate = clamp(normal(random, 72 + 40 * volumeLoss, 6), 50, 140);
  const respiratoryRate = clamp(normal(random, 14 + 8 * volumeLoss, 2), 8, 30);
  return {
    heartRateBpm: fixed.heartRateBpm ?? heartRate,
    respiratoryRateBpm: fixed.respiratoryRateBpm ?? respiratoryRate,
    respiratoryPhase: random.next(),
    cardiacPhase: random.next(),
    sizeScale: Math.exp(normal(random, 0, 0.08)),
    dynamicsScale: Math.exp(normal(random, 0, 0.2)),
    respiratoryEffort: fixed.respiratoryEffort ?? 1,
  };
}

/** Inspiratory collapse in 0–1, peaking once per breath and sharper than a sine. */
function respiratoryWave(timeS: number, physiology: PhantomPhysiology): number {
  const cycles = (timeS * physiology.respiratoryRateBpm) / 60 + physiology.respiratoryPhase;
  return ((1 - Math.cos(2 * Math.PI * cycles)) / 2) ** 1.5;
}

function cardiacCycles(timeS: number, physiology: PhantomPhysiology): number {
  const cycles = (timeS * physiology.heartRateBpm) / 60 + physiology.cardiacPhase;
  return cycles - Math.floor(cycles);
}

/** Arterial distension in 0–1: a fast systolic upstroke, then an exponential diastolic run-off. */
function arterialWave(timeS: number, physiology: PhantomPhysiology): number {
  const phase = cardiacCycles(timeS, physiology);
  const upstroke = 0.15;
  if (phase < upstroke) return Math.sin(((Math.PI / 2) * phase) / upstroke) ** 2;
  return Math.exp(-(phase - upstroke) / 0.25);
}

/** Venous pulsation in 0–1 with two peaks per beat, approximating the a and v waves. */
function venousWave(timeS: number, physiology: PhantomPhysiology): number {
  return (1 - Math.cos(4 * Math.PI * cardiacCycles(timeS, physiology))) / 2;
}

/** Respiratory collapsibility the phantom vein is driven with, before the clip samples it. */
function drivenCollapsibility(
  anatomy: VesselAnatomy,
  volumeState: number,
  physiology: PhantomPhysiology,
): number {
  const [min, max] = anatomy.collapsibilityRange;
  const base =
    anatomy.collapsibilityAtNormal + anatomy.collapsibilityPerVolumeLoss * (1 - volumeState);
  const scale = physiology.dynamicsScale * physiology.respiratoryEffort;
  return clamp(clamp(base, min, max) * scale, 0, 0.9);
}

/** Lumen AP and lateral diameters per frame, pixels. */
export interface VesselDiameters {
  apPx: number[];
  lateralPx: number[];
}

function veinDiameters(
  anatomy: VesselAnatomy,
  volumeState: number,
  physiology: PhantomPhysiology,
  timestampsS: readonly number[],
  heightPx: number,
): VesselDiameters {
  // Hypovolaemic veins are also smaller when relaxed, not only more collapsible.
  const apMax = anatomy.apDiameter * heightPx * physiology.sizeScale * (0.7 + 0.3 * volumeState);
  const collapse = drivenCollapsibility(anatomy, volumeState, physiology);
  const apPx: number[] = [];
  const lateralPx: number[] = [];
  for (const t of timestampsS) {
    const breath = collapse * respiratoryWave(t, physiology);
    const pulse = anatomy.cardiacAmplitude * venousWave(t, physiology);
    apPx.push(apMax * (1 - breath - pulse));
    // Veins flatten: the lateral diameter changes far less than the AP diameter.
    lateralPx.push(apMax * anatomy.lateralToAp * (1 - 0.3 * breath - 0.5 * pulse));
  }
  return { apPx, lateralPx };
}

function arteryDiameters(
  anatomy: VesselAnatomy,
  volumeState: number,
  physiology: PhantomPhysiology,
  timestampsS: readonly number[],
  heightPx: number,
): VesselDiameters {
  const diastolic =
    anatomy.apDiameter * heightPx * physiology.sizeScale * (0.92 + 0.08 * volumeState);
  // A smaller stroke volume distends the artery less; stiffer arteries distend less too.
  const distension =
    anatomy.cardiacAmplitude * clamp(volumeState, 0.6, 1.3) * physiology.dynamicsScale;
  const apPx = timestampsS.map((t) => diastolic * (1 + distension * arterialWave(t, physiology)));
  const lateralPx = apPx.map((ap) => ap * anatomy.lateralToAp);
  return { apPx, lateralPx };
}

/** Computes the lumen diameters of one vessel at the given frame times. */
export function vesselDiameters(
  anatomy: VesselAnatomy,
  volumeState: number,
  physiology: PhantomPhysiology,
  timestampsS: readonly number[],
  heightPx: number,
): VesselDiameters {
  if (anatomy.kind === 'artery') {
    return arteryDiameters(anatomy, volumeState, physiology, timestampsS, heightPx);
  }
  return veinDiameters(anatomy, volumeState, physiology, timestampsS, heightPx);
}
