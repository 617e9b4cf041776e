// A subset of npm's semver ranges (https://github.com/npm/node-semver#ranges), enough for a
// bundle to name the daemon versions it runs on: comparators (<, <=, >, >=, =), caret, tilde,
// x-ranges, hyphen ranges and `||`.
// NOTE: prerelease tags are compared as plain text after the numbers, and a prerelease version
// can satisfy a range that npm would exclude it from, because npm matches prereleases only
// against comparators with the same major, minor and patch.
import { BvEdgeError } from '../core/errors.ts';

type Version = [number, number, number, string];
type Comparator = { op: '<' | '<=' | '>' | '>=' | '='; version: Version };

const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
const PARTIAL = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?$/;

function invalidRange(range: string, reason: string): BvEdgeError {
  return new BvEdgeError(
    'semver_range_invalid',
    `Invalid version range "${range}": ${reason}. Use npm semver syntax, e.g. ">=0.1.0 <1.0.0" ` +
      'or "^0.1.0".',
    { value: range },
  );
}

/** Parses "1.2.3" (optionally with a prerelease or build suffix); throws on anything else. */
export function parseVersion(text: string): Version {
  const match = VERSION.exec(text.trim());
  if (!match) {
    throw new BvEdgeError(
      'semver_invalid',
      `Invalid version "${text}": expected MAJOR.MINOR.PATCH.`,
    );
  }
  return [Number(match[1]), Number(match[2]), Number(match[3]), match[4] ?? ''];
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) {
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  }
  if (a[3] === b[3]) return 0;
  // A release sorts after its prereleases.
  if (a[3] === '') return 1;
  if (b[3] === '') return -1;
  return a[3] < b[3] ? -1 : 1;
}

/** A partial version with x or missing parts as null. */
type Partial = [number | null, number | null, number | null, string];

function parsePartial(text: string, range: string): Partial {
  const match = PARTIAL.exec(text);
  if (!match) throw invalidRange(range, `"${text}" is not a version`);
  const part = (value: string | undefined): number | null =>
    value === undefined || /^[xX*]$/.test(value) ? null : Number(value);
  return [part(match[1]), part(match[2]), part(match[3]), match[4] ?? ''];
}

function full(partial: Partial): Version {
  return [partial[0] ?? 0, partial[1] ?? 0, partial[2] ?? 0, partial[3]];
}

/** The lowest version above every version that `partial` matches, e.g. 1.2 gives 1.3.0-0. */
function upperBound(partial: Partial): Version | null {
  const [major, minor, patch] = partial;
  if (major === null) return null;
  if (minor === null) return [major + 1, 0, 0, '0'];
  if (patch === null) return [major, minor + 1, 0, '0'];
  return null;
}

function caret(partial: Partial): Comparator[] {
  const [major, minor, patch] = partial;
  const low: Comparator = { op: '>=', version: full(partial) };
  if (major === null) return [];
  if (major > 0 || minor === null) return [low, { op: '<', version: [major + 1, 0, 0, '0'] }];
  if (minor > 0 || patch === null) return [low, { op: '<', version: [0, minor + 1, 0, '0'] }];
  return [low, { op: '<', version: [0, 0, patch + 1, '0'] }];
}

function tilde(partial: Partial): Comparator[] {
  const [major, minor] = partial;
  if (major === null) return [];
  const high: Version = minor === null ? [major + 1, 0, 0, '0'] : [major, minor + 1, 0, '0'];
  return [
    { op: '>=', version: full(partial) },
    { op: '<', version: high },
  ];
}

function plain(op: string, partial: Partial, range: string): Comparator[] {
  const upper = upperBound(partial);
  const low = full(partial);
  switch (op) {
    case '':
    case '=':
      if (partial[0] === null) return [];
      return upper
        ? [
            { op: '>=', version: low },
            { op: '<', version: upper },
          ]
        : [{ op: '=', version: low }];
    case '>=':
      return [{ op: '>=', version: low }];
    case '<':
      return [{ op: '<', version: low }];
    case '>':
      return [upper ? { op: '>=', version: upper } : { op: '>', version: low }];
    case '<=':
      return [upper ? { op: '<', version: upper } : { op: '<=', version: low }];
    default:
      throw invalidRange(range, `unknown operator "${op}"`);
  }
}

function parseComparators(set: string, range: string): Comparator[] {
  const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(set);
  if (hyphen) {
    return [
      ...plain('>=', parsePartial(hyphen[1]!, range), range),
      ...plainUpTo(hyphen[2]!, range),
    ];
  }
  const comparators: Comparator[] = [];
  for (const token of set.split(/\s+/).filter(Boolean)) {
    const match = /^(\^|~|>=|<=|>|<|=)?\s*(.+)$/.exec(token)!;
    const op = match[1] ?? '';
    const partial = parsePartial(match[2]!, range);
    if (op === '^') comparators.push(...caret(partial));
    else if (op === '~') comparators.push(...tilde(partial));
    else comparators.push(...plain(op, partial, range));
  }
  return comparators;
}

function plainUpTo(text: string, range: string): Comparator[] {
  return plain('<=', parsePartial(text, range), range);
}

function test(version: Version, comparator: Comparator): boolean {
  const order = compare(version, comparator.version);
  switch (comparator.op) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    default:
      return order === 0;
  }
}

/**
 * Checks the syntax of `range` and returns its comparator sets. Throws BvEdgeError
 * `semver_range_invalid` naming the range.
 */
function parseRange(range: string): Comparator[][] {
  // Operators may be written apart from their version, e.g. ">= 1.2.3".
  const normalised = range.trim().replace(/(\^|~|>=|<=|>|<|=)\s+/g, '$1');
  return normalised.split('||').map((set) => parseComparators(set.trim(), range));
}

/** Throws BvEdgeError `semver_range_invalid` unless `range` is a supported range. */
export function checkRange(range: string): void {
  parseRange(range);
}

/** Returns whether `version` lies in `range`, e.g. satisfies("0.1.0", ">=0.1.0 <1.0.0"). */
export function satisfies(version: string, range: string): boolean {
  const parsed = parseVersion(version);
  return parseRange(range).some((set) => set.every((comparator) => test(parsed, comparator)));
}
