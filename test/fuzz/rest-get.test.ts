// Fuzz: the GET routes of the REST API (history, presence, channels, info) with any path segment,
// query string and API key, and any method on any path. Answers must be the contract's.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelsResponse, HistoryResponse, InfoResponse, PresenceResponse } from '../../contract/index.js';
import { type TestServer, startServer } from '../support/server.js';
import {
  type Encoding,
  type QueryPair,
  authHeader,
  buildQuery,
  channelLike,
  encodeAs,
  encoding,
  extraHeaders,
  offsetText,
  oddQueryKey,
  oddString,
  positionText,
} from './arbitraries.js';
import { checkHttpAnswer, expectErrorAmong, expectServesEveryTransport, expectSuccess, httpRequest } from './checks.js';
import { FUZZ_LIMITS, fuzz, fuzzTimeout } from './harness.js';
import { type HeaderInput, authorized, expectHistory, routerParam } from './oracles.js';

/** A channel with a known history: offsets 1..PUBLISHED of one epoch (its name is outside validChannel's alphabet). */
const HISTORY_CHANNEL = 'fuzz-history';
const PUBLISHED = 5;
/** Replaced by the real epoch of HISTORY_CHANNEL, so `since` can be recoverable. */
const EPOCH = '{epoch}';

const limitText = fc.oneof(
  fc.integer({ min: 0, max: 1001 }).map(String),
  fc.constantFrom('-1', '1.5', 'abc', '1e2', '0x10', ' 5', '', '99999999999999999999', 'Infinity', 'NaN', '1,2'),
);
const historyPair: fc.Arbitrary<QueryPair> = fc.oneof(
  { weight: 2, arbitrary: positionText.map((v): QueryPair => ['since', v]) },
  { weight: 2, arbitrary: offsetText.map((o): QueryPair => ['since', `${EPOCH}:${o}`]) },
  { weight: 2, arbitrary: limitText.map((v): QueryPair => ['limit', v]) },
  { weight: 2, arbitrary: fc.constantFrom('true', 'false', 'TRUE', '1', 'yes', '').map((v): QueryPair => ['reverse', v]) },
  { weight: 1, arbitrary: fc.tuple(oddQueryKey, oddString(10)) },
);

interface GetInput {
  auth: HeaderInput;
  extra: Record<string, string>;
  channel: string;
  pairs: QueryPair[];
  mode: Encoding;
}

const getInput = (pairs: fc.Arbitrary<QueryPair[]>): fc.Arbitrary<GetInput> =>
  fc.record({
    auth: authHeader,
    extra: extraHeaders,
    channel: fc.oneof({ weight: 2, arbitrary: fc.constant(HISTORY_CHANNEL) }, { weight: 3, arbitrary: channelLike }),
    pairs,
    mode: encoding,
  });

const READ_ROUTES = ['presence', 'channels', 'info'] as const;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const PATHS = ['/api/publish', '/api/broadcast', '/api/channels', '/api/info', '/health', '/ready', '/api/channels/a/history', '/api/channels/a/presence', '/sse', '/poll', '/ws', '/openapi.json', '/asyncapi.json', '/docs', '/docs/protocol.md', '/favicon.ico', '/metrics'];

describe('fuzz: REST history, presence, channels, info', () => {
  let srv: TestServer;
  let epoch = '';

  beforeAll(async () => {
    // History must not expire during a long `npm run fuzz`.
    srv = await startServer({ ...FUZZ_LIMITS, HUBBUB_HISTORY_TTL: String(7 * 24 * 3600) });
    for (let i = 1; i <= PUBLISHED; i++) epoch = (await srv.publish(HISTORY_CHANNEL, i)).epoch;
  });
  afterAll(() => srv?.close());

  function get(path: string, input: { auth: HeaderInput; extra: Record<string, string> }, method = 'GET') {
    const headers: Record<string, string | string[]> = { ...input.extra };
    if (input.auth !== undefined) headers['authorization'] = input.auth;
    return httpRequest(srv.app.port, { method, path, headers });
  }

  it(
    'history: every channel, query string and key gets the contract answer',
    () =>
      fuzz('rest history', srv, getInput(fc.array(historyPair, { maxLength: 4 })), async (input) => {
        const segment = encodeAs(input.channel, input.mode);
        const query = buildQuery(input.pairs.map(([k, v]) => [k, v.replaceAll(EPOCH, epoch)]), input.mode);
        const path = `/api/channels/${segment}/history${query ? `?${query}` : ''}`;
        const expected = expectHistory({ auth: input.auth, segment, query });
        const res = await get(path, input);
        const what = `GET ${path}`;
        if (expected.kind === 'unauthorized') return expectErrorAmong(res, new Set(['unauthorized']), what).code;
        if (expected.kind === 'error') return expectErrorAmong(res, expected.codes, what).code;
        const { since, limit, reverse } = expected.value;
        const known = routerParam(segment) === HISTORY_CHANNEL;
        // A position of another epoch, or past the end, cannot be recovered.
        if (since && known && (since.epoch !== epoch || since.offset > PUBLISHED)) {
          return expectErrorAmong(res, new Set(['unrecoverable_position']), what).code;
        }
        if (since && !known && res.status === 409) return expectErrorAmong(res, new Set(['unrecoverable_position']), what).code;
        const page = expectSuccess(res, HistoryResponse, what);
        if (known) {
          let offsets = Array.from({ length: PUBLISHED - (since?.offset ?? 0) }, (_, i) => (since?.offset ?? 0) + i + 1);
          if (reverse) offsets.reverse();
          offsets = offsets.slice(0, limit);
          expect(page.publications.map((p) => p.offset), what).toEqual(offsets);
          expect(page).toMatchObject({ epoch, offset: PUBLISHED });
        }
        return 'ok';
      }),
    fuzzTimeout(10),
  );

  it(
    'presence, channels, info: every path, query string and key gets the contract answer',
    () =>
      fuzz(
        'rest presence/channels/info',
        srv,
        fc.tuple(getInput(fc.array(fc.tuple(oddQueryKey, oddString(10)), { maxLength: 3 })), fc.constantFrom(...READ_ROUTES)),
        async ([input, route]) => {
          const segment = encodeAs(input.channel, input.mode);
          const query = buildQuery(input.pairs, input.mode);
          const base = route === 'presence' ? `/api/channels/${segment}/presence` : `/api/${route}`;
          const path = base + (query ? `?${query}` : '');
          const what = `GET ${path}`;
          const res = await get(path, input);
          if (route === 'presence' && segment === '') return expectErrorAmong(res, new Set(['not_found']), what).code;
          if (!authorized(input.auth)) return expectErrorAmong(res, new Set(['unauthorized']), what).code;
          if (route === 'presence') {
            const channel = routerParam(segment);
            if (!PresenceResponse.shape.channel.safeParse(channel).success) {
              return expectErrorAmong(res, new Set(['invalid_channel', 'bad_request']), what).code;
            }
            expect(expectSuccess(res, PresenceResponse, what).channel).toBe(channel);
          } else if (route === 'info') expectSuccess(res, InfoResponse, what);
          else expectSuccess(res, ChannelsResponse, what);
          return 'ok';
        },
      ),
    fuzzTimeout(10),
  );

  it(
    'any method on any path: no 5xx, errors from the table',
    () =>
      fuzz(
        'rest methods and paths',
        srv,
        fc.record({
          method: fc.constantFrom(...METHODS),
          path: fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom(...PATHS) },
            { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PATHS), oddString(12), encoding).map(([p, s, m]) => p + encodeAs(s, m)) },
          ),
          auth: authHeader,
          extra: extraHeaders,
        }),
        async (input) => {
          const res = await get(input.path, input, input.method);
          // HEAD has no body; the status alone must come from the table.
          if (input.method === 'HEAD') {
            expect(res.status < 500 || res.status === 503, `HEAD ${input.path} → ${res.status}`).toBe(true);
            return `HEAD ${res.status}`;
          }
          return checkHttpAnswer(res, `${input.method} ${input.path}`)?.code ?? `${res.status}`;
        },
      ),
    fuzzTimeout(10),
  );

  it('still serves a normal client on every transport afterwards', () => expectServesEveryTransport(srv));
});
