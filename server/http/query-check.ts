import { z } from 'zod';

// A contract route's query schema, compiled once into a plain function for the hottest requests
// (the direct route's /poll and /sse). The schema stays the one definition: the function is derived
// from it at start, accepts only what the schema accepts and returns exactly what it would parse to;
// whenever it is unsure (a field it cannot decide, a value the schema might refuse) it answers
// undefined and the caller parses with the schema itself, which also words the 400.

export type QueryCheck = (query: Record<string, unknown>) => Record<string, unknown> | undefined;

/** How one field is checked: a string with length bounds at once, anything else by its own schema. */
type FieldCheck = { key: string; optional: boolean } & ({ kind: 'string'; min: number; max: number } | { kind: 'schema'; schema: z.ZodTypeAny });

function stringBounds(schema: z.ZodString): { min: number; max: number } | undefined {
  if (schema._def.coerce) return undefined;
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  for (const check of schema._def.checks) {
    if (check.kind === 'min') min = Math.max(min, check.value);
    else if (check.kind === 'max') max = Math.min(max, check.value);
    else if (check.kind === 'length') {
      min = Math.max(min, check.value);
      max = Math.min(max, check.value);
    } else return undefined; // a pattern, a transform (trim, ...): the schema decides
  }
  return { min, max };
}

function fieldCheck(key: string, schema: z.ZodTypeAny): FieldCheck {
  const optional = schema instanceof z.ZodOptional;
  const inner: z.ZodTypeAny = optional ? (schema as z.ZodOptional<z.ZodTypeAny>).unwrap() : schema;
  const bounds = inner instanceof z.ZodString ? stringBounds(inner) : undefined;
  return bounds ? { key, optional, kind: 'string', ...bounds } : { key, optional, kind: 'schema', schema };
}

/**
 * The check for `schema` (a route's query: an object of optional strings and a few others), or
 * undefined when the schema is not a plain stripping object, so that the caller always parses.
 */
export function compileQueryCheck(schema: unknown): QueryCheck | undefined {
  if (!(schema instanceof z.ZodObject)) return undefined;
  if (schema._def.unknownKeys !== 'strip' || !(schema._def.catchall instanceof z.ZodNever)) return undefined;
  const shape = schema.shape as Record<string, z.ZodTypeAny>;
  const fields = Object.keys(shape).map((key) => fieldCheck(key, shape[key]!));
  return (query) => {
    // zod's object parse: the shape's keys in order, set when present in the input, others dropped.
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      if (!(f.key in query)) {
        if (!f.optional) return undefined;
        continue;
      }
      const value = query[f.key];
      if (f.kind === 'string') {
        if (value === undefined && f.optional) out[f.key] = value;
        else if (typeof value === 'string' && value.length >= f.min && value.length <= f.max) out[f.key] = value;
        else return undefined;
      } else {
        const parsed = f.schema.safeParse(value);
        if (!parsed.success) return undefined;
        out[f.key] = parsed.data;
      }
    }
    return out;
  };
}
