import { stringify } from 'yaml';
import { z } from 'zod';

/**
 * Documentation of a config key beyond its description, kept in zod's global registry.
 * `examples` (JSON Schema's keyword) contains a value to show for a key without a default.
 * `defaultText` gives the default in words when the value depends on the machine.
 */
export interface KeyDocs {
  [key: string]: unknown;
  description?: string;
  examples?: unknown[];
  defaultText?: string;
}

/** Formats a value in YAML flow style the way Prettier writes it, for descriptions and files. */
export function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatDefault).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([key, inner]) => `${key}: ${formatDefault(inner)}`);
    return `{ ${entries.join(', ')} }`;
  }
  return stringify(value).trim();
}

export interface SettingOptions {
  /** The default in words, for values that depend on the machine such as paths and host names. */
  defaultText?: string;
  /** A value to show in the example file in place of a machine-dependent default. */
  example?: unknown;
}

/**
 * Gives `schema` a default and a description that ends with that default, so that the text
 * and the value cannot disagree. `description` names what the key sets and its unit.
 */
export function setting<T extends z.ZodType>(
  schema: T,
  value: NonNullable<z.output<T>> | null,
  description: string,
  options: SettingOptions = {},
) {
  const defaultLabel = options.defaultText ?? formatDefault(value);
  // zod cannot relate a generic T's output to its default parameter, so the cast only restates
  // the signature above.
  return schema
    .default(value as never)
    .meta(docs(`${description} Default: ${defaultLabel}.`, options));
}

/** Describes a key that may be left out; `description` states what leaving it out means. */
export function optionalSetting<T extends z.ZodType>(
  schema: T,
  description: string,
  example?: unknown,
) {
  return schema.optional().meta(docs(`${description} Optional.`, { example }));
}

/** Describes a key without a default, which a file must give. */
export function requiredSetting<T extends z.ZodType>(
  schema: T,
  description: string,
  example: unknown,
) {
  return schema.meta(docs(`${description} Required.`, { example }));
}

/**
 * Gives `schema` a default that is parsed like a value from the file, so that the defaults of
 * its own keys fill in. Used for objects, whose `default` would skip their inner defaults.
 */
export function prefaultSetting<T extends z.ZodType>(
  schema: T,
  value: z.input<T>,
  description: string,
) {
  // The cast restates the signature above, as in `setting`.
  const text = `${description} Default: ${formatDefault(value)}.`;
  return schema.prefault(value as never).meta(docs(text, {}));
}

/** Describes a group of keys whose own defaults apply when the group is left out. */
export function section<T extends z.ZodType>(schema: T, description: string) {
  return schema.prefault({} as never).meta(docs(description, {}));
}

function docs(description: string, options: SettingOptions): KeyDocs {
  return {
    description,
    ...(options.example !== undefined && { examples: [options.example] }),
    ...(options.defaultText !== undefined && { defaultText: options.defaultText }),
  };
}

/** Reads the documentation that the helpers above registered for `schema`. */
export function keyDocs(schema: z.ZodType): KeyDocs {
  return (z.globalRegistry.get(schema) ?? {}) as KeyDocs;
}
