import type { Hl7Context } from '@medplum/core';

// @medplum/core 4.5.2 joins and splits components as they are: Hl7Field.toString() writes a `|`
// inside a value unchanged and Hl7Field.parse() leaves `\F\` as four characters. So every value
// is escaped here before it goes into an Hl7Field, and unescaped after it is read from one. The
// sequences are those of the HL7 v2 standard, chapter 2, "Use of escape sequences in text fields",
// which allows the delimiter sequences in ST fields too.

/** Escapes the delimiters, the escape character and line breaks of `value` for one component. */
export function escapeHl7(value: string, context: Hl7Context): string {
  const escape = context.escapeCharacter;
  const sequences = new Map<string, string>([
    [escape, 'E'],
    [context.fieldSeparator, 'F'],
    [context.componentSeparator, 'S'],
    [context.subcomponentSeparator, 'T'],
    [context.repetitionSeparator, 'R'],
    ['\r', 'X0D'],
    ['\n', 'X0A'],
  ]);
  let escaped = '';
  for (const character of value) {
    const sequence = sequences.get(character);
    escaped += sequence === undefined ? character : `${escape}${sequence}${escape}`;
  }
  return escaped;
}

/**
 * Replaces the escape sequences of `value` by the characters they stand for. `\Xhh…\` becomes
 * the bytes it encodes (read as UTF-8). Formatting sequences such as `\H\` and `\.br\`, and an
 * escape character without a closing one, are kept as they are.
 */
export function unescapeHl7(value: string, context: Hl7Context): string {
  const escape = context.escapeCharacter;
  const characters: Record<string, string> = {
    E: escape,
    F: context.fieldSeparator,
    S: context.componentSeparator,
    T: context.subcomponentSeparator,
    R: context.repetitionSeparator,
  };
  let result = '';
  let index = 0;
  while (index < value.length) {
    const start = value.indexOf(escape, index);
    if (start < 0) break;
    const end = value.indexOf(escape, start + 1);
    if (end < 0) break;
    result += value.slice(index, start);
    const sequence = value.slice(start + 1, end);
    result += decodeSequence(sequence, characters) ?? value.slice(start, end + 1);
    index = end + 1;
  }
  return result + value.slice(index);
}

function decodeSequence(sequence: string, characters: Record<string, string>): string | null {
  const character = characters[sequence];
  if (character !== undefined) return character;
  if (/^X(?:[0-9A-Fa-f]{2})+$/.test(sequence)) {
    return Buffer.from(sequence.slice(1), 'hex').toString('utf8');
  }
  return null;
}
