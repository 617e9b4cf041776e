import { z } from 'zod';

/** The kinds of value a config key takes, as environment overrides and the example file need. */
export type LeafKind = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'other';

export interface UnwrappedSchema {
  schema: z.ZodType;
  nullable: boolean;
}

/** Strips default, prefault, optional and nullable wrappers and reports whether null is valid. */
export function unwrapSchema(schema: z.ZodType): UnwrappedSchema {
  let current = schema;
  let nullable = false;
  for (;;) {
    if (current instanceof z.ZodNullable) nullable = true;
    if (
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable
    ) {
      current = current.unwrap() as z.ZodType;
      continue;
    }
    return { schema: current, nullable };
  }
}

/** Returns the object schemas under `schema`: itself, or each variant of a union of objects. */
export function objectVariants(schema: z.ZodType): z.ZodObject[] {
  const inner = unwrapSchema(schema).schema;
  if (inner instanceof z.ZodObject) return [inner];
  if (inner instanceof z.ZodUnion) {
    return (inner.options as z.ZodType[]).flatMap((option) => objectVariants(option));
  }
  return [];
}

/** Collects the keys of an object schema, or of every union variant, each with its schemas. */
export function childKeys(schema: z.ZodType): Map<string, z.ZodType[]> {
  const children = new Map<string, z.ZodType[]>();
  for (const variant of objectVariants(schema)) {
    for (const [key, child] of Object.entries(variant.shape)) {
      children.set(key, [...(children.get(key) ?? []), child as z.ZodType]);
    }
  }
  return children;
}

export function leafKind(schema: z.ZodType): LeafKind {
  const inner = unwrapSchema(schema).schema;
  if (inner instanceof z.ZodString || inner instanceof z.ZodEnum) return 'string';
  if (inner instanceof z.ZodLiteral) {
    return typeof inner.value === 'number' ? 'number' : 'string';
  }
  if (inner instanceof z.ZodNumber) return 'number';
  if (inner instanceof z.ZodBoolean) return 'boolean';
  if (inner instanceof z.ZodArray) return 'array';
  if (objectVariants(inner).length > 0) return 'object';
  return 'other';
}
