// Fuzz: GET /sse and /poll with any query string (channel lists, cursors, timeouts, unknown or
// repeated parameters) and any Last-Event-ID header. Errors are the contract's; a valid request
// gets a stream (SSE) or a response (poll) with one subscription per channel and a cursor to match.
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PollResponse, SseConnectedEvent, SseSubscribedEvent, parseCursor } from '../../contract/index.js';
import { readSse } from '../support/sse-reader.js';
import { type TestServer, startServer } from '../support/server.js';
import {
  type Encoding,
  type QueryPair,
  buildQuery,
  cursorText,
  encoding,
  extraHeaders,
  headerValue,
  maybe,
  mostlyValidChannel,
  oddQueryKey,
  oddString,
  positionText,
  validPositionText,
} from './arbitraries.js';
import { type HttpResult, expectErrorAmong, expectServesEveryTransport, expectSuccess, httpRequest } from './checks.js';
import { fuzz, fuzzTimeout } from './harness.js';
import { type Expected, type HeaderInput, type RealtimeRequest, expectRealtime } from './oracles.js';

const channelsAndCursor = fc.array(mostlyValidChannel, { minLength: 1, maxLength: 4 }).chain((channels) =>
  fc.record({
    channels: fc.oneof(
      { weight: 8, arbitrary: fc.constant(channels.join(',')) },
      { weight: 1, arbitrary: fc.integer({ min: 120, max: 140 }).map((n) => Array.from({ length: n }, (_, i) => `c${i}`).join(',')) },
      { weight: 1, arbitrary: fc.constantFrom('', ',', 'a,', ',a', 'a,,b', 'a,a') },
      { weight: 1, arbitrary: oddString(20) },
    ),
    cursor: maybe(
      fc.oneof(
        // One entry per channel (empty means "from now"), the shape a real client sends back.
        {
          weight: 3,
          arbitrary: fc
            .array(fc.oneof({ weight: 3, arbitrary: validPositionText }, { weight: 1, arbitrary: positionText }, { weight: 2, arbitrary: fc.constant('') }), {
              minLength: channels.length,
              maxLength: channels.length,
            })
            .map((e) => e.join(',')),
        },
        { weight: 1, arbitrary: cursorText },
      ),
      0.6,
    ),
  }),
);

const timeoutText = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 60_001 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('-1', '1.5', 'abc', '', '1e3', '0x10', ' 5', '99999999999', 'Infinity') },
);

interface RealtimeInput {
  pairs: QueryPair[];
  mode: Encoding;
  lastEventId: HeaderInput;
  extra: Record<string, string>;
}

const realtimeInput: fc.Arbitrary<RealtimeInput> = fc.record({
  pairs: fc
    .tuple(
      channelsAndCursor,
      maybe(timeoutText, 0.6),
      // Unknown parameters, or a real one again (Koa then hands the route an array).
      fc.array(
        fc.oneof({ weight: 3, arbitrary: fc.tuple(oddQueryKey, oddString(8)) }, { weight: 1, arbitrary: fc.tuple(fc.constantFrom('channels', 'cursor', 'timeout'), oddString(8)) }),
        { maxLength: 2 },
      ),
    )
    .map(([{ channels, cursor }, timeout, extra]): QueryPair[] => [
      ['channels', channels],
      ...(cursor === undefined ? [] : [['cursor', cursor] as QueryPair]),
      ...(timeout === undefined ? [] : [['timeout', timeout] as QueryPair]),
      ...extra,
    ]),
  mode: encoding,
  lastEventId: fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.oneof(positionText, cursorText).map((t) => t.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?')) },
    { weight: 1, arbitrary: headerValue },
    { weight: 1, arbitrary: fc.tuple(headerValue, headerValue) },
  ),
  extra: extraHeaders,
});

function headersOf(input: RealtimeInput): Record<string, string | string[]> {
  return { ...input.extra, ...(input.lastEventId === undefined ? {} : { 'last-event-id': input.lastEventId }) };
}

/** The answer's error code, or `ok` after `onSuccess` checked it. */
function checkAnswer(res: HttpResult, expected: Expected<RealtimeRequest>, what: string, onSuccess: () => void): string {
  if (expected.kind === 'error') return expectErrorAmong(res, expected.codes, what).code;
  onSuccess();
  return 'ok';
}

describe('fuzz: SSE and long-poll requests', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(() => srv?.close());

  /** Opens /sse; a 200 is read until every channel's `subscribed` event, then closed. */
  function sse(path: string, headers: Record<string, string | string[]>, channels: number): Promise<{ res: HttpResult; events: Array<{ event: string; data: string; id: string | undefined }> }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: srv.app.port, path, headers, agent: false }, async (res) => {
        const head = { status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '' };
        try {
          if (head.status !== 200) {
            const chunks: Buffer[] = [];
            for await (const c of res) chunks.push(c as Buffer);
            return resolve({ res: { ...head, text: Buffer.concat(chunks).toString('utf8') }, events: [] });
          }
          const events: Array<{ event: string; data: string; id: string | undefined }> = [];
          const timer = setTimeout(() => req.destroy(new Error(`no subscribed event for every channel in 5 s; got ${JSON.stringify(events)}`)), 5000);
          for await (const ev of readSse(res as unknown as ReadableStream<Uint8Array>)) {
            events.push(ev);
            if (ev.event === 'disconnect' || events.filter((e) => e.event === 'subscribed').length >= channels) break;
          }
          clearTimeout(timer);
          req.destroy();
          resolve({ res: { ...head, text: '' }, events });
        } catch (err) {
          reject(err);
        }
      });
      req.on('error', reject);
    });
  }

  it(
    'sse: every query string and Last-Event-ID gets the contract answer',
    () =>
      fuzz('sse requests', srv, realtimeInput, async (input) => {
        const query = buildQuery(input.pairs, input.mode);
        const expected = expectRealtime({ query, lastEventId: input.lastEventId }, { maxChannels: srv.config.maxChannels, poll: false });
        const channels = expected.kind === 'ok' ? expected.value.channels : [];
        const what = `GET /sse?${query} (Last-Event-ID ${JSON.stringify(input.lastEventId)})`;
        const { res, events } = await sse(`/sse?${query}`, headersOf(input), channels.length);
        return checkAnswer(res, expected, what, () => {
          expect(res.status, what).toBe(200);
          expect(res.contentType, what).toMatch(/^text\/event-stream/);
          expect(events[0]?.event, `${what}: first event`).toBe('connected');
          SseConnectedEvent.parse(JSON.parse(events[0]!.data));
          const subscribed = events.filter((e) => e.event === 'subscribed');
          expect(subscribed.map((e) => SseSubscribedEvent.parse(JSON.parse(e.data)).channel).sort(), what).toEqual([...channels].sort());
          for (const e of subscribed) expect(parseCursor(e.id ?? '', channels.length), `${what}: id ${e.id} is not a cursor`).toBeDefined();
        });
      }),
    fuzzTimeout(30),
  );

  it(
    'poll: every query string gets the contract answer',
    () =>
      fuzz('poll requests', srv, realtimeInput, async (input) => {
        const query = buildQuery(input.pairs, input.mode);
        const expected = expectRealtime({ query }, { maxChannels: srv.config.maxChannels, poll: true });
        const what = `GET /poll?${query}`;
        const res = await httpRequest(srv.app.port, { method: 'GET', path: `/poll?${query}`, headers: headersOf(input) });
        return checkAnswer(res, expected, what, () => {
          const channels = (expected as { value: RealtimeRequest }).value.channels;
          const body = expectSuccess(res, PollResponse, what);
          expect(body.subscriptions.map((s) => s.channel), what).toEqual(channels);
          expect(parseCursor(body.cursor, channels.length), `${what}: cursor ${body.cursor}`).toBeDefined();
        });
      }),
    fuzzTimeout(30),
  );

  it('still serves a normal client on every transport afterwards', () => expectServesEveryTransport(srv));
});
