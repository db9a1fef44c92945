// Fuzz: POST /api/publish and /api/broadcast with any body, content type and API key.
// Every answer must be the one the contract gives for that input (see oracles.ts).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BroadcastRequest, BroadcastResult, PublishRequest, PublishResult } from '../../contract/index.js';
import { type TestServer, startServer } from '../support/server.js';
import {
  type Entry,
  authHeader,
  buildQuery,
  contentTypeHeader,
  dataText,
  encoding,
  entriesOf,
  eventText,
  extraHeaders,
  field,
  jsonText,
  keyToken,
  longString,
  maybe,
  objectText,
  oddQueryKey,
  oddString,
  stringToken,
  mostlyValidChannel,
  truncated,
} from './arbitraries.js';
import { expectErrorAmong, expectServesEveryTransport, expectSuccess, httpRequest } from './checks.js';
import { FUZZ_LIMITS, fuzz, fuzzTimeout } from './harness.js';
import { type BodyLimits, type Expected, type HeaderInput, expectPost } from './oracles.js';

const channelText = fc.oneof({ weight: 8, arbitrary: mostlyValidChannel.map((c) => JSON.stringify(c)) }, { weight: 1, arbitrary: jsonText });
const tagsText = fc.oneof(
  {
    weight: 3,
    arbitrary: objectText(
      fc.array(
        fc.tuple(keyToken, fc.oneof({ weight: 5, arbitrary: stringToken }, { weight: 1, arbitrary: longString(250, 300).map((s) => JSON.stringify(s)) })),
        { maxLength: 40 },
      ),
    ),
  },
  { weight: 1, arbitrary: jsonText },
);
const idempotencyText = fc.oneof(
  { weight: 4, arbitrary: oddString(20).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: longString(120, 140).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: jsonText },
);
/** Unknown keys, and the real ones again (JSON.parse keeps the last). */
const extraEntries = maybe(fc.array(fc.tuple(fc.oneof(keyToken, fc.constantFrom('"channel"', '"channels"', '"data"', '"tags"')), jsonText), {
  minLength: 1,
  maxLength: 2,
}), 0.15).map((es) => es ?? []);

/** A JSON object body most of the time; then cut short, other JSON, text or bytes. */
function bodyOf(entries: fc.Arbitrary<Entry[]>): fc.Arbitrary<string | Buffer> {
  const text = objectText(entries);
  return fc.oneof(
    { weight: 12, arbitrary: text },
    { weight: 2, arbitrary: truncated(text) },
    { weight: 1, arbitrary: jsonText },
    { weight: 1, arbitrary: oddString(40) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', ' ', '\n', '\ufeff{}', 'null', '{"channel":"a","data":1}{"channel":"b","data":2}', '{"channel":"a","data":1}\n'),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)) },
  );
}

const publishBody = bodyOf(
  entriesOf(
    [
      maybe(field('channel', channelText), 0.95),
      maybe(field('data', dataText), 0.95),
      maybe(field('event', eventText), 0.25),
      maybe(field('tags', tagsText), 0.25),
      maybe(field('idempotencyKey', idempotencyText), 0.25),
    ],
    extraEntries,
  ),
);

const channelsText = fc.oneof(
  { weight: 8, arbitrary: fc.array(mostlyValidChannel, { maxLength: 6 }).map((cs) => JSON.stringify(cs)) },
  { weight: 1, arbitrary: fc.integer({ min: 990, max: 1010 }).map((n) => JSON.stringify(Array.from({ length: n }, (_, i) => `c${i}`))) },
  { weight: 1, arbitrary: jsonText },
);
const broadcastBody = bodyOf(
  entriesOf(
    [maybe(field('channels', channelsText), 0.95), maybe(field('data', dataText), 0.95), maybe(field('event', eventText), 0.25), maybe(field('tags', tagsText), 0.25)],
    extraEntries,
  ),
);

interface PostInput {
  auth: HeaderInput;
  contentType: HeaderInput;
  extra: Record<string, string>;
  /** A query string the route ignores. */
  query: string;
  body: string | Buffer;
}

const postInput = (body: fc.Arbitrary<string | Buffer>): fc.Arbitrary<PostInput> =>
  fc.record({
    auth: authHeader,
    contentType: contentTypeHeader,
    extra: extraHeaders,
    query: maybe(fc.tuple(fc.array(fc.tuple(oddQueryKey, oddString(8)), { maxLength: 2 }), encoding), 0.2).map((q) =>
      q ? `?${buildQuery(...q)}` : '',
    ),
    body,
  });

describe('fuzz: REST publish and broadcast', () => {
  let srv: TestServer;
  let limits: BodyLimits;

  beforeAll(async () => {
    srv = await startServer(FUZZ_LIMITS);
    limits = { body: srv.config.maxMessageBytes + 64 * 1024, data: srv.config.maxMessageBytes };
  });
  afterAll(() => srv?.close());

  function post(route: string, input: PostInput) {
    const headers: Record<string, string | string[]> = { ...input.extra };
    if (input.auth !== undefined) headers['authorization'] = input.auth;
    if (input.contentType !== undefined) headers['content-type'] = input.contentType;
    return httpRequest(srv.app.port, { method: 'POST', path: route + input.query, headers, body: input.body });
  }

  /** Checks an expected error and returns its code; for a valid request returns the request. */
  function expectAnswer<T>(res: Awaited<ReturnType<typeof post>>, expected: Expected<T>, what: string): { code: string } | { request: T } {
    if (expected.kind === 'ok') return { request: expected.value };
    const codes = expected.kind === 'unauthorized' ? new Set(['unauthorized'] as const) : expected.codes;
    return { code: expectErrorAmong(res, codes, what).code };
  }

  it(
    'publish: every body, content type and key gets the contract answer',
    () =>
      fuzz('rest publish', srv, postInput(publishBody), async (input) => {
        const expected = expectPost(input, PublishRequest, limits);
        const res = await post('/api/publish', input);
        const answer = expectAnswer(res, expected, 'POST /api/publish');
        if ('code' in answer) return answer.code;
        const result = expectSuccess(res, PublishResult, 'POST /api/publish');
        expect(result.channel).toBe(answer.request.channel);
        return 'ok';
      }),
    fuzzTimeout(15),
  );

  it(
    'broadcast: every body, content type and key gets the contract answer',
    () =>
      fuzz('rest broadcast', srv, postInput(broadcastBody), async (input) => {
        const expected = expectPost(input, BroadcastRequest, limits);
        const res = await post('/api/broadcast', input);
        const answer = expectAnswer(res, expected, 'POST /api/broadcast');
        if ('code' in answer) return answer.code;
        const { results } = expectSuccess(res, BroadcastResult, 'POST /api/broadcast');
        expect(results.map((r) => r.channel)).toEqual(answer.request.channels);
        for (const r of results) expect(r, 'one channel of a broadcast failed').not.toHaveProperty('error');
        return 'ok';
      }),
    fuzzTimeout(15),
  );

  it('still serves a normal client on every transport afterwards', () => expectServesEveryTransport(srv));
});
