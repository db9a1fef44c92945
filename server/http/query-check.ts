import { z } from 'zod';

// A contract route's query schema, compiled once into a plain function for the hottest requests
// (the direct route's /poll and /sse). The schema stays the one definition: the function is derived
// from it at start and reads the query string itself; it accepts only what the schema accepts once
// Koa has read the string (URLSearchParams), and returns exactly what the schema would parse it to.
// Whenever it is unsure (an encoded character, a repeated key, a field it cannot decide, a value the
// schema might refuse) it answers undefined, and the caller reads and parses the query as Koa does,
// with the schema itself, which also words the 400.

/** `text` is the query string after the `?`. */
export type QueryCheck = (text: string) => Record<string, unknown> | undefined;

/** Anything URLSearchParams would decode or re-encode: a reader that splits plain text must leave it to URLSearchParams. */
export const ENCODED = /[%+]|[^\x20-\x7e]/;

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
  // zod asks `key in input`: a key the prototype of Koa's query object has would always be "present".
  if (Object.keys(shape).some((key) => key in {})) return undefined;
  const fields = Object.keys(shape).map((key) => fieldCheck(key, shape[key]!));
  const index = new Map(fields.map((f, i) => [f.key, i]));
  return (text) => {
    if (ENCODED.test(text)) return undefined;
    // URLSearchParams on plain text: one leading `?` dropped, `&`-separated, empty parts skipped, split at the first `=`.
    const values: Array<string | undefined> = [];
    for (let start = text.charCodeAt(0) === 0x3f ? 1 : 0; start < text.length; ) {
      let end = text.indexOf('&', start);
      if (end < 0) end = text.length;
      if (end > start) {
        const eq = text.indexOf('=', start);
        const keyEnd = eq >= 0 && eq < end ? eq : end;
        const i = index.get(text.slice(start, keyEnd));
        if (i !== undefined) {
          // Repeated: Koa makes it an array, which the schema decides.
          if (values[i] !== undefined) return undefined;
          values[i] = keyEnd === end ? '' : text.slice(keyEnd + 1, end);
        }
      }
      start = end + 1;
    }
    // zod's object parse: the shape's keys in order, set when present in the input, others dropped.
    const out: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const value = values[i];
      if (value === undefined) {
        if (!f.optional) return undefined;
        continue;
      }
      if (f.kind === 'string') {
        if (value.length >= f.min && value.length <= f.max) out[f.key] = value;
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
