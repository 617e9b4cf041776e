/** Plain decimal notation: Number() alone would also read "0x10" as 16 and "1e3" as 1000. */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/;

/** Parses a decimal number as typed by a person; anything else gives NaN. */
export function parseDecimal(text: string): number {
  return DECIMAL.test(text) ? Number(text) : Number.NaN;
}
