import { z } from 'zod';
import { formatDefault, keyDocs } from './describe.ts';
import { envVariableName } from './env.ts';
import { CONFIG_VERSION, ConfigSchema } from './schema.ts';
import { objectVariants, unwrapSchema } from './schema-walk.ts';

/** Width of the generated file, the same as the code's formatter width. */
const LINE_WIDTH = 100;

/**
 * Position of the next line: its indentation, and the column of `#` when it is commented out.
 * Prettier keeps `#` at the indentation of the enclosing block, so a commented-out block keeps
 * its own indentation after the `#`.
 */
interface Place {
  indent: number;
  commentColumn: number | null;
}

/**
 * Renders the complete config file with every key, its description and its default, in YAML.
 * Keys without a default, or whose default depends on the machine, are commented out with an
 * example value. `bv-edge config defaults` prints it, and deploy/bv-edge.example.yaml is its
 * output.
 */
export function renderExampleConfig(): string {
  const lines = [
    `# bv-edge configuration, version ${CONFIG_VERSION}. Written by \`bv-edge config defaults\`.`,
    '# Every key shows its default. Commented-out keys are optional or depend on the machine.',
    `# Environment variables override keys by path: ${envVariableName(['mqtt', 'url'])} sets mqtt.url.`,
    '# Check a file with `bv-edge config check FILE`.',
    '',
  ];
  const root = unwrapSchema(ConfigSchema).schema as z.ZodObject;
  renderObject(root, { indent: 0, commentColumn: null }, lines);
  return `${lines.join('\n')}\n`;
}

function renderObject(schema: z.ZodObject, place: Place, lines: string[]): void {
  const entries = Object.entries(schema.shape) as [string, z.ZodType][];
  entries.forEach(([key, child], index) => {
    // Top-level groups get a blank line between them; nested keys stay together.
    if (place.indent === 0 && index > 0) lines.push('');
    renderKey(key, child, place, lines);
  });
}

function renderKey(key: string, schema: z.ZodType, place: Place, lines: string[]): void {
  const docs = keyDocs(schema);
  if (docs.description) pushComment(docs.description, place, lines);
  const { schema: inner } = unwrapSchema(schema);
  const parsed = schema.safeParse(undefined);
  const defaultValue = parsed.success ? parsed.data : undefined;
  if (inner instanceof z.ZodUnion) return renderUnion(key, schema, inner, place, lines);
  if (inner instanceof z.ZodObject && defaultValue !== null) {
    pushLine(`${key}:`, place, lines);
    return renderObject(inner, { ...place, indent: place.indent + 2 }, lines);
  }
  if (inner instanceof z.ZodLiteral && !parsed.success) {
    return pushLine(`${key}: ${formatDefault(inner.value)}`, place, lines);
  }
  const machineDependent = docs.defaultText !== undefined;
  if (defaultValue !== undefined && !machineDependent) {
    pushLine(`${key}: ${formatDefault(defaultValue)}`, place, lines);
  }
  const example = docs.examples?.[0];
  const exampleLine = example === undefined ? `${key}:` : `${key}: ${formatDefault(example)}`;
  if (!parsed.success) return pushLine(exampleLine, place, lines);
  if (defaultValue === undefined || machineDependent || example !== undefined) {
    pushLine(exampleLine, commentOut(place), lines);
  }
}

/**
 * Renders the default variant of a union such as capture.source, then every other variant as a
 * commented-out block that can replace it.
 */
function renderUnion(
  key: string,
  schema: z.ZodType,
  union: z.ZodUnion,
  place: Place,
  lines: string[],
): void {
  const defaults = schema.parse(undefined) as { kind?: unknown };
  const variants = objectVariants(union);
  const chosen = variants.find((variant) => variant.shape.kind?.safeParse(defaults.kind).success);
  const nested = { ...place, indent: place.indent + 2 };
  pushLine(`${key}:`, place, lines);
  if (chosen) renderObject(chosen, nested, lines);
  for (const variant of variants) {
    if (variant === chosen) continue;
    const description = keyDocs(variant).description ?? '';
    pushComment(`${description} Replace the ${key} block above with this one.`, place, lines);
    const commented = commentOut(place);
    pushLine(`${key}:`, commented, lines);
    renderObject(variant, { ...commented, indent: commented.indent + 2 }, lines);
  }
}

function commentOut(place: Place): Place {
  return { indent: place.indent, commentColumn: place.commentColumn ?? place.indent };
}

function linePrefix(place: Place): string {
  if (place.commentColumn === null) return ' '.repeat(place.indent);
  const inside = ' '.repeat(place.indent - place.commentColumn);
  return `${' '.repeat(place.commentColumn)}# ${inside}`;
}

function pushLine(text: string, place: Place, lines: string[]): void {
  lines.push(linePrefix(place) + text);
}

/** Adds `text` as comment lines wrapped to LINE_WIDTH. */
function pushComment(text: string, place: Place, lines: string[]): void {
  const prefix = `${linePrefix(place)}# `;
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && prefix.length + line.length + 1 + word.length > LINE_WIDTH) {
      lines.push(prefix + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(prefix + line);
}
