import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PollQuery, RealtimeQuery } from '../contract/index.js';
import { TOKEN_MAX_LENGTH } from '../contract/tokens.js';
import { compileQueryCheck } from '../server/http/query-check.js';
import { koaQuery } from './support/koa-query.js';

// The direct route checks /poll and /sse query strings with a function compiled from the contract's
// schema (server/http/query-check.ts). Whatever it accepts, the schema accepts once Koa has read the
// string, with the same parsed value (same keys, same order); whatever it is unsure of, it leaves to
// Koa's reader and the schema.

const SCHEMAS = {
  PollQuery,
  RealtimeQuery,
  // Required keys, exact lengths, patterns and transforms: the compiler must know when it cannot decide.
  other: z.object({
    need: z.string().length(2),
    pattern: z.string().regex(/^a+$/).optional(),
    trimmed: z.string().trim().optional(),
    count: z.coerce.number().int().optional(),
    flag: z.enum(['on', 'off']).optional(),
  }),
};

const key = fc.constantFrom('channels', 'token', 'tokens', 'cursor', 'timeout', 'need', 'pattern', 'trimmed', 'count', 'flag', 'extra', 'toString', '__proto__', '?channels', 'chan%6Eels');
const value = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('', '0', '60000', '60001', '-1', '1.5', '%207', 'aa', 'a+a', 'on', 'k3x9a1:42,', 'x'.repeat(TOKEN_MAX_LENGTH), 'x'.repeat(TOKEN_MAX_LENGTH + 1)),
);
const part = fc.oneof(fc.tuple(key, value).map(([k, v]) => `${k}=${v}`), key, fc.constantFrom('', '=', '=x', 'a=b=c'));
const text = fc
  .tuple(fc.constantFrom('', '?', 'need=aa&'), fc.array(part, { maxLength: 6 }))
  .map(([lead, parts]) => lead + parts.join('&'));

describe('compileQueryCheck', () => {
  it.each(Object.entries(SCHEMAS))('accepts only what %s accepts, parsed alike', (_name, schema) => {
    const check = compileQueryCheck(schema)!;
    expect(check).toBeTypeOf('function');
    let decided = 0;
    fc.assert(
      fc.property(text, (t) => {
        const fast = check(t);
        if (fast === undefined) return;
        decided += 1;
        const slow = schema.safeParse(koaQuery.parse(t));
        expect(slow.success).toBe(true);
        expect(Object.entries(fast)).toEqual(Object.entries(slow.data!));
      }),
      { numRuns: 5000 },
    );
    // A check that never decides would pass the property: the fast path must actually be taken.
    expect(decided).toBeGreaterThan(100);
  });

  it('decides the queries long-pollers send without the schema, and leaves the rest to it', () => {
    const check = compileQueryCheck(PollQuery)!;
    expect(check('channels=chat:lobby,news&cursor=k3x9a1:42,&extra=1')).toEqual({ channels: 'chat:lobby,news', cursor: 'k3x9a1:42,' });
    expect(check('channels=a&timeout=25000')).toEqual({ channels: 'a', timeout: 25000 });
    expect(check('?channels=a&&cursor')).toEqual({ channels: 'a', cursor: '' });
    // Refused by the contract, or read otherwise by Koa: undefined, the schema decides and words the 400.
    expect(check('channels=a&channels=b')).toBeUndefined();
    expect(check('channels=a&token=')).toBeUndefined();
    expect(check('channels=a&timeout=soon')).toBeUndefined();
    expect(check('channels=a%3Ab')).toBeUndefined();
    expect(check('channels=a+b')).toBeUndefined();
  });

  it('leaves schemas it cannot compile to the schema', () => {
    expect(compileQueryCheck(undefined)).toBeUndefined();
    expect(compileQueryCheck(z.object({ a: z.string() }).strict())).toBeUndefined();
    expect(compileQueryCheck(z.object({ a: z.string() }).passthrough())).toBeUndefined();
    expect(compileQueryCheck(z.object({ constructor: z.string().optional() }))).toBeUndefined();
    expect(compileQueryCheck(z.string())).toBeUndefined();
  });
});
