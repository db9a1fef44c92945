import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PollQuery, RealtimeQuery } from '../contract/index.js';
import { TOKEN_MAX_LENGTH } from '../contract/tokens.js';
import { compileQueryCheck } from '../server/http/query-check.js';

// The direct route checks /poll and /sse queries with a function compiled from the contract's
// schema (server/http/query-check.ts). Whatever it accepts, the schema accepts, with the same parsed
// value (same keys, same order); whatever the schema refuses, it leaves to the schema.

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

const value = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('', '0', '60000', '60001', '-1', '1.5', ' 7', 'aa', ' a ', 'on', 'x'.repeat(TOKEN_MAX_LENGTH), 'x'.repeat(TOKEN_MAX_LENGTH + 1)),
  fc.array(fc.constantFrom('a', 'b', ''), { minLength: 2, maxLength: 3 }),
);
const key = fc.constantFrom('channels', 'token', 'tokens', 'cursor', 'timeout', 'need', 'pattern', 'trimmed', 'count', 'flag', 'extra', 'toString');
const query = fc.dictionary(key, value, { maxKeys: 6 });

describe('compileQueryCheck', () => {
  it.each(Object.entries(SCHEMAS))('accepts only what %s accepts, parsed alike', (_name, schema) => {
    const check = compileQueryCheck(schema)!;
    expect(check).toBeTypeOf('function');
    let decided = 0;
    fc.assert(
      fc.property(query, (q) => {
        const fast = check(q);
        const slow = schema.safeParse(q);
        if (fast === undefined) return;
        decided += 1;
        expect(slow.success).toBe(true);
        expect(Object.entries(fast)).toEqual(Object.entries(slow.data!));
      }),
      { numRuns: 3000 },
    );
    // A check that never decides would pass the property: the fast path must actually be taken.
    expect(decided).toBeGreaterThan(20);
  });

  it('decides the queries long-pollers send without the schema', () => {
    const check = compileQueryCheck(PollQuery)!;
    expect(check({ channels: 'chat:lobby,news', cursor: 'k3x9a1:42,', extra: '1' })).toEqual({ channels: 'chat:lobby,news', cursor: 'k3x9a1:42,' });
    expect(check({ channels: 'a', timeout: '25000' })).toEqual({ channels: 'a', timeout: 25000 });
    // Refused by the contract: left to the schema, which words the 400.
    expect(check({ channels: ['a', 'b'] })).toBeUndefined();
    expect(check({ channels: 'a', token: '' })).toBeUndefined();
    expect(check({ channels: 'a', timeout: 'soon' })).toBeUndefined();
  });

  it('leaves schemas it cannot compile to the schema', () => {
    expect(compileQueryCheck(undefined)).toBeUndefined();
    expect(compileQueryCheck(z.object({ a: z.string() }).strict())).toBeUndefined();
    expect(compileQueryCheck(z.object({ a: z.string() }).passthrough())).toBeUndefined();
    expect(compileQueryCheck(z.string())).toBeUndefined();
  });
});
