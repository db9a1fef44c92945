import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ERROR_TABLE, ErrorBody, HistoryResponse, MAX_DATA_DEPTH, type Publication } from '../contract/index.js';
import { decodePublication, encodePublication } from '../server/broker/nats/codec.js';
import { type RawSession, TRANSPORT_NAMES, openSession } from './support/raw-clients.js';
import { type TestServer, startServer } from './support/server.js';

// Property: no publication the server accepts can fail to encode. Whatever JSON text a backend
// sends as `data` (and `tags`), the server either refuses it with a table error before storing
// anything, or stores it and every transport delivers it live, the NATS codec round-trips it and
// history returns it, all equal to what was sent. Which of the two is decided by an oracle that
// reads the JSON text itself, independent of the server's walk over the parsed value.

const CHANNEL = 'prop';
const DELIVERY = { timeout: 10_000, interval: 5 };

/** Depth and numbers of JSON text, read from the characters (not from the parsed value). */
function textFacts(text: string): { depth: number; nonFinite: boolean } {
  let depth = 0;
  let max = 0;
  let nonFinite = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (ch === '[' || ch === '{') max = Math.max(max, ++depth);
    else if (ch === ']' || ch === '}') depth--;
    else if (/[-0-9]/.test(ch)) {
      const token = /^[-+0-9.eE]+/.exec(text.slice(i))![0];
      if (!Number.isFinite(Number(token))) nonFinite = true;
      i += token.length - 1;
    }
  }
  return { depth: max, nonFinite };
}

const jsonString = (s: string) => JSON.stringify(s);
const oddKey = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 6 }).map(jsonString),
  fc.constantFrom('__proto__', '', 'constructor', 'prototype', 'toString', 'ü', '😀', 'a.b', '0', 'type', 'offset').map(jsonString),
  fc.constantFrom('"\\ud800"', '"\\u0000"', '"__pro\\u0074o__"'),
);
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.constantFrom('1e400', '-1e400', '1E+309', '1e-400', '-0', '-0.0', '9007199254740993', '123456789012345678901234567890', '5e-324'),
);
const stringText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }).map(jsonString),
  fc.constantFrom('"\\ud800"', '"\\udfff\\ud800"', '"\\u2028\\u2029"', '"\\u0000"', '"a\\r\\nb"', '"data: x\\n\\nid: 1"', '"\\"]}"'),
);
const scalarText = fc.oneof(numberText, stringText, fc.constantFrom('true', 'false', 'null'));

const { value: treeText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 5 }, scalarText, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`),
  // Unique keys: with duplicates JSON.parse keeps the last, which the text oracle cannot see.
  object: fc.uniqueArray(fc.tuple(oddKey, tie('value')), { maxLength: 4, selector: ([k]) => JSON.parse(k) as string }).map((kv) => `{${kv.map(([k, v]) => `${k}:${v}`).join(',')}}`),
}));

/** A chain of arrays and objects some `levels` deep around a leaf: depths around the limit. */
const chainText = (levels: fc.Arbitrary<number>, leaf: fc.Arbitrary<string>) =>
  fc
    .tuple(
      levels,
      fc.array(fc.option(oddKey, { nil: undefined }), { minLength: MAX_DATA_DEPTH + 2, maxLength: MAX_DATA_DEPTH + 2 }),
      leaf,
      fc.array(scalarText, { maxLength: 2 }),
    )
    .map(([depth, keys, inner, siblings]) => {
      let text = inner;
      for (let i = 0; i < depth; i++) {
        const key = keys[i];
        const rest = siblings.join(',');
        text = key === undefined ? `[${text}${rest ? `,${rest}` : ''}]` : `{${key}:${text}}`;
      }
      return text;
    });

const tagsText = fc.option(
  fc
    .uniqueArray(fc.tuple(oddKey, fc.string({ unit: 'binary', maxLength: 8 })), { maxLength: 4, selector: ([k]) => JSON.parse(k) as string })
    .map((kv) => `{${kv.map(([k, v]) => `${k}:${jsonString(v)}`).join(',')}}`),
  { nil: undefined },
);

const input = fc.record({
  data: fc.oneof(
    { arbitrary: treeText, weight: 3 },
    { arbitrary: chainText(fc.integer({ min: MAX_DATA_DEPTH - 4, max: MAX_DATA_DEPTH + 2 }), fc.oneof(scalarText, treeText)), weight: 3 },
    // Exactly at the limit and one past it, with a string leaf (no number to be refused for).
    { arbitrary: chainText(fc.constantFrom(MAX_DATA_DEPTH, MAX_DATA_DEPTH + 1), stringText), weight: 2 },
    { arbitrary: fc.json(), weight: 1 },
  ),
  tags: tagsText,
});

/** The expected code, or undefined when the server must store and deliver the publication. */
function expectedRefusal(data: string, tags: string | undefined, maxBytes: number): keyof typeof ERROR_TABLE | undefined {
  const facts = textFacts(data);
  const tagKeys = tags === undefined ? [] : Object.keys(JSON.parse(tags) as object);
  // Too deep wins over a non-finite number; a second, different problem makes it bad_request.
  if (tagKeys.includes('__proto__')) return 'bad_request';
  if (facts.depth > MAX_DATA_DEPTH) return 'data_too_deep';
  if (facts.nonFinite) return 'bad_request';
  if (Buffer.byteLength(JSON.stringify(JSON.parse(data))) > maxBytes) return 'payload_too_large';
  return undefined;
}

/** What a subscriber must receive: the sent value, except that -0 is a number like 0 (JSON has no -0). */
const expectedValue = (text: string): unknown => JSON.parse(text, (_k, v: unknown) => (Object.is(v, -0) ? 0 : v));

describe('no publication the server accepts can fail to encode', () => {
  let srv: TestServer;
  const sessions: RawSession[] = [];
  const outcomes = new Map<string, number>();
  const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  beforeAll(async () => {
    srv = await startServer();
    for (const t of TRANSPORT_NAMES) sessions.push(await openSession(t, srv.url, [CHANNEL]));
  });
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await srv.close();
  });

  const history = async (since?: string) =>
    HistoryResponse.parse(await (await srv.api(`/api/channels/${CHANNEL}/history${since ? `?since=${since}` : ''}`)).json());

  it('refuses before storing, or delivers on every transport, through NATS encoding and from history', async () => {
    await fc.assert(
      fc.asyncProperty(input, async ({ data, tags }) => {
        const before = (await history()).offset;
        const body = `{"channel":"${CHANNEL}","data":${data}${tags === undefined ? '' : `,"tags":${tags}`}}`;
        const res = await srv.api('/api/publish', { method: 'POST', body });
        const answer: unknown = await res.json();
        const refusal = expectedRefusal(data, tags, srv.config.maxMessageBytes);
        if (refusal) {
          count(refusal);
          expect({ status: res.status, answer }).toMatchObject({ status: ERROR_TABLE[refusal].status, answer: { code: refusal } });
          ErrorBody.parse(answer);
          expect((await history()).offset, 'a refused publication moved the offset').toBe(before);
          return;
        }
        expect(res.status, JSON.stringify(answer)).toBe(200);
        const { epoch, offset } = answer as { epoch: string; offset: number };
        expect(offset).toBe(before + 1);
        count(textFacts(data).depth === MAX_DATA_DEPTH ? 'stored at the limit' : 'stored');
        const want = { data: expectedValue(data), ...(tags === undefined ? {} : { tags: expectedValue(tags) }) };

        for (const s of sessions) {
          await vi.waitFor(() => expect(s.publications.at(-1)?.offset).toBe(offset), DELIVERY);
          const got = s.publications.at(-1)!;
          expect({ data: got.data, ...(got.tags ? { tags: got.tags } : {}) }).toEqual(want);
        }
        const page = await history(`${epoch}:${offset - 1}`);
        expect(page.publications).toHaveLength(1);
        const pub: Publication = page.publications[0]!;
        expect({ data: pub.data, ...(pub.tags ? { tags: pub.tags } : {}) }).toEqual(want);
        const wire = encodePublication(pub, offset - 1);
        expect(decodePublication(CHANNEL, wire.headers, wire.body)).toEqual({ pub, prevSeq: offset - 1 });
      }),
      { numRuns: 200 },
    );
    // The run covered both outcomes, and the limit from both sides.
    for (const what of ['stored', 'stored at the limit', 'data_too_deep', 'bad_request']) {
      expect(outcomes.get(what) ?? 0, `${what} in ${JSON.stringify([...outcomes])}`).toBeGreaterThan(0);
    }
    for (const s of sessions) expect(s.disconnects).toEqual([]);
  }, 120_000);
});
