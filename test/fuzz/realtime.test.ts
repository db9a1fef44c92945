// Fuzz: GET /sse and /poll with any query string (channel lists, cursors, timeouts, unknown or
// repeated parameters) and any Last-Event-ID header. Errors are the contract's; a valid request
// gets a stream (SSE) or a response (poll) with one subscription per channel and a cursor to match.
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PollResponse, SseConnectedEvent, SseSubscribedEvent, type StreamPosition, parseCursor } from '../../contract/index.js';
import { type SseEvent, readSse } from '../support/sse-reader.js';
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
import { FUZZ_LIMITS, fuzz, fuzzTimeout } from './harness.js';
import { type HeaderInput, expectRealtime } from './oracles.js';

/** A channel with a known history (offsets 1..PUBLISHED), so cursors can be recoverable. */
const RECOVER = 'fuzz-recover';
const PUBLISHED = 5;
/** Replaced by RECOVER's real epoch before the request is sent. */
const EPOCH = '{epoch}';

const channelsAndCursor = fc
  .array(fc.oneof({ weight: 3, arbitrary: mostlyValidChannel }, { weight: 1, arbitrary: fc.constant(RECOVER) }), { minLength: 1, maxLength: 4 })
  .chain((channels) => {
    // One entry per channel (empty means "from now"), the shape a real client sends back; or anything.
    const cursor = fc.oneof(
      {
        weight: 3,
        arbitrary: fc
          .array(
            fc.oneof(
              { weight: 3, arbitrary: validPositionText },
              { weight: 4, arbitrary: fc.nat({ max: PUBLISHED + 2 }).map((k) => `${EPOCH}:${k}`) },
              { weight: 1, arbitrary: positionText },
              { weight: 2, arbitrary: fc.constant('') },
            ),
            { minLength: channels.length, maxLength: channels.length },
          )
          .map((e) => e.join(',')),
      },
      { weight: 1, arbitrary: cursorText },
    );
    return fc.record({
      channels: fc.oneof(
        { weight: 8, arbitrary: fc.constant(channels.join(',')) },
        { weight: 1, arbitrary: fc.integer({ min: 120, max: 140 }).map((n) => Array.from({ length: n }, (_, i) => `c${i}`).join(',')) },
        { weight: 1, arbitrary: fc.constantFrom('', ',', 'a,', ',a', 'a,,b', 'a,a') },
        { weight: 1, arbitrary: oddString(20) },
      ),
      cursor: maybe(cursor, 0.6),
      lastEventId: fc.oneof(
        { weight: 6, arbitrary: fc.constant(undefined) },
        { weight: 2, arbitrary: cursor.map((t) => t.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?')) },
        { weight: 1, arbitrary: headerValue },
        { weight: 1, arbitrary: fc.tuple(headerValue, headerValue) },
      ),
    });
  });

const timeoutText = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 60_001 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('-1', '1.5', 'abc', '', '1e3', '0x10', ' 5', '99999999999', 'Infinity') },
);

/** The request with RECOVER's epoch in place of the token. */
function resolve(input: RealtimeInput, epoch: string): { query: string; lastEventId: HeaderInput } {
  const sub = (t: string) => t.replaceAll(EPOCH, epoch);
  const lastEventId = Array.isArray(input.lastEventId) ? input.lastEventId.map(sub) : input.lastEventId === undefined ? undefined : sub(input.lastEventId);
  return { query: buildQuery(input.pairs.map(([k, v]) => [k, sub(v)]), input.mode), lastEventId };
}

interface RealtimeInput {
  pairs: QueryPair[];
  mode: Encoding;
  lastEventId: HeaderInput;
  extra: Record<string, string>;
}

const realtimeInput: fc.Arbitrary<RealtimeInput> = fc
  .record({
    request: channelsAndCursor,
    timeout: maybe(timeoutText, 0.6),
    // Unknown parameters, or a real one again (Koa then hands the route an array).
    extraPairs: fc.array(
      fc.oneof({ weight: 3, arbitrary: fc.tuple(oddQueryKey, oddString(8)) }, { weight: 1, arbitrary: fc.tuple(fc.constantFrom('channels', 'cursor', 'timeout'), oddString(8)) }),
      { maxLength: 2 },
    ),
    mode: encoding,
    extra: extraHeaders,
  })
  .map(({ request, timeout, extraPairs, mode, extra }) => ({
    pairs: [
      ['channels', request.channels] as QueryPair,
      ...(request.cursor === undefined ? [] : [['cursor', request.cursor] as QueryPair]),
      ...(timeout === undefined ? [] : [['timeout', timeout] as QueryPair]),
      ...extraPairs,
    ],
    mode,
    lastEventId: request.lastEventId,
    extra,
  }));

describe('fuzz: SSE and long-poll requests', () => {
  let srv: TestServer;
  let epoch = '';
  beforeAll(async () => {
    // A poll whose cursor is current waits: one second, not the default 25.
    srv = await startServer({ ...FUZZ_LIMITS, HUBBUB_POLL_TIMEOUT: '1', HUBBUB_HISTORY_TTL: String(7 * 24 * 3600) });
    for (let i = 1; i <= PUBLISHED; i++) epoch = (await srv.publish(RECOVER, i)).epoch;
  });
  afterAll(() => srv?.close());

  /** Only RECOVER's history can be recovered, and only from a position of its epoch within it. */
  const recoverable = (channel: string, since: StreamPosition | undefined): since is StreamPosition =>
    channel === RECOVER && since !== undefined && since.epoch === epoch && since.offset <= PUBLISHED;

  /** Opens /sse; a 200 is read until every channel's `subscribed` event, then closed. */
  function sse(path: string, headers: Record<string, string | string[]>, channels: number): Promise<{ res: HttpResult; events: SseEvent[] }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: srv.app.port, path, headers, agent: false }, async (res) => {
        const head = { status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '' };
        try {
          if (head.status !== 200) {
            const chunks: Buffer[] = [];
            for await (const c of res) chunks.push(c as Buffer);
            return resolve({ res: { ...head, text: Buffer.concat(chunks).toString('utf8') }, events: [] });
          }
          const events: SseEvent[] = [];
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
        const { query, lastEventId } = resolve(input, epoch);
        const expected = expectRealtime({ query, lastEventId }, { maxChannels: srv.config.maxChannels, poll: false });
        const what = `GET /sse?${query} (Last-Event-ID ${JSON.stringify(lastEventId)})`;
        const headers = { ...input.extra, ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) };
        const { res, events } = await sse(`/sse?${query}`, headers, expected.kind === 'ok' ? expected.value.channels.length : 0);
        if (expected.kind !== 'ok') return expectErrorAmong(res, expected.kind === 'error' ? expected.codes : new Set(), what).code;
        const { channels, since } = expected.value;
        expect(res.status, what).toBe(200);
        expect(res.contentType, what).toMatch(/^text\/event-stream/);
        expect(events[0]?.event, `${what}: first event`).toBe('connected');
        SseConnectedEvent.parse(JSON.parse(events[0]!.data));
        const subscribed = events.filter((e) => e.event === 'subscribed');
        expect(subscribed.map((e) => SseSubscribedEvent.parse(JSON.parse(e.data)).channel).sort(), what).toEqual([...channels].sort());
        for (const e of subscribed) {
          const result = SseSubscribedEvent.parse(JSON.parse(e.data));
          const i = channels.indexOf(result.channel);
          expect(result.recovered, `${what}: recovered for ${result.channel}`).toBe(recoverable(result.channel, since[i]));
          expect(parseCursor(e.id ?? '', channels.length), `${what}: id ${e.id} is not a cursor`).toBeDefined();
        }
        return since.some((p, i) => recoverable(channels[i]!, p)) ? 'ok, recovered' : 'ok';
      }),
    fuzzTimeout(20),
  );

  it(
    'poll: every query string gets the contract answer; a recoverable cursor gets the missed publications',
    () =>
      fuzz('poll requests', srv, realtimeInput, async (input) => {
        const { query, lastEventId } = resolve(input, epoch);
        // /poll has no Last-Event-ID: sent anyway, it must change nothing.
        const expected = expectRealtime({ query }, { maxChannels: srv.config.maxChannels, poll: true });
        const what = `GET /poll?${query}`;
        const headers = { ...input.extra, ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) };
        const res = await httpRequest(srv.app.port, { method: 'GET', path: `/poll?${query}`, headers });
        if (expected.kind !== 'ok') return expectErrorAmong(res, expected.kind === 'error' ? expected.codes : new Set(), what).code;
        const { channels, since } = expected.value;
        const body = expectSuccess(res, PollResponse, what);
        expect(body.subscriptions.map((s) => s.channel), what).toEqual(channels);
        expect(parseCursor(body.cursor, channels.length), `${what}: cursor ${body.cursor}`).toBeDefined();
        const missed: number[] = [];
        channels.forEach((c, i) => {
          const p = since[i];
          expect(body.subscriptions[i]!.recovered, `${what}: recovered for ${c}`).toBe(recoverable(c, p));
          if (recoverable(c, p)) for (let o = p.offset + 1; o <= PUBLISHED; o++) missed.push(o);
        });
        expect(body.publications.map((p) => p.offset), `${what}: publications`).toEqual(missed);
        return missed.length > 0 ? 'ok, recovered' : 'ok';
      }),
    fuzzTimeout(20),
  );

  it('still serves a normal client on every transport afterwards', () => expectServesEveryTransport(srv));
});
