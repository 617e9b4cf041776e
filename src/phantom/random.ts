/** A seeded pseudo-random source. */
export interface Random {
  /** Returns a uniform number in [0, 1). */
  next(): number;
  /** Returns a uniform 32-bit unsigned integer. */
  nextUint32(): number;
}

/**
 * Creates a mulberry32 generator: 32-bit state, fast, and good enough for synthetic images, but
 * not for cryptography.
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  const nextUint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return { nextUint32, next: () => nextUint32() / 4294967296 };
}

/** Mixes integers into one 32-bit seed, so that derived streams (per patient, per view) differ. */
export function deriveSeed(...parts: number[]): number {
  let hash = 0x811c9dc5;
  for (const part of parts) {
    hash = Math.imul(hash ^ (part >>> 0), 0x01000193) >>> 0;
    hash = Math.imul(hash ^ (hash >>> 13), 0x5bd1e995) >>> 0;
  }
  return hash >>> 0;
}

export function uniform(random: Random, min: number, max: number): number {
  return min + (max - min) * random.next();
}

/** Draws a standard normal variate by the Box–Muller transform. */
export function standardNormal(random: Random): number {
  const u1 = 1 - random.next();
  const u2 = random.next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

export function normal(random: Random, mean: number, sd: number): number {
  return mean + sd * standardNormal(random);
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
