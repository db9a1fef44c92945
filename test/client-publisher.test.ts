import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type { ERROR_TABLE, HistoryResponse, PublishResult as PublishResultSchema } from '../contract/index.js';
import { HubbubError, type FetchLike, type HubbubErrorCode } from '../client/index.js';
import { createPublisher, type PublishResult } from '../client/publisher.js';
import { TEST_API_KEY, startServer } from './support/server.js';

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A fetch that records the request and answers from a script. */
function stubFetch(answer: (call: Call) => Response | Promise<Response>): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init = {}) => {
    const call: Call = {
      url,
      method: init.method ?? 'GET',
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    return answer(call);
  };
  return { fetch, calls };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });

describe('createPublisher', () => {
  it('publishes with the API key and returns the typed result', async () => {
    const s = stubFetch(() => json(200, { channel: 'chat:a', epoch: 'e1', offset: 3 }));
    const pub = createPublisher({ url: 'http://hub.test/', apiKey: 'k'.repeat(16), fetch: s.fetch });
    const r = await pub.publish('chat:a', { text: 'hi' }, { tags: { kind: 'chat' }, idempotencyKey: 'abc' });
    expect(r).toEqual({ channel: 'chat:a', epoch: 'e1', offset: 3 });
    expect(s.calls).toEqual([
      {
        url: 'http://hub.test/api/publish',
        method: 'POST',
        headers: { authorization: `Bearer ${'k'.repeat(16)}`, 'content-type': 'application/json' },
        body: { channel: 'chat:a', data: { text: 'hi' }, tags: { kind: 'chat' }, idempotencyKey: 'abc' },
      },
    ]);
  });

  it('builds history, info, channels and broadcast requests from the contract routes', async () => {
    const s = stubFetch(() => json(200, {}));
    const pub = createPublisher({ url: 'http://hub.test', apiKey: 'key', fetch: s.fetch });
    await pub.history('chat:a', { since: { epoch: 'e1', offset: 4 }, limit: 10, reverse: true });
    await pub.info();
    await pub.channels();
    await pub.broadcast(['a', 'b'], 1);
    expect(s.calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'GET http://hub.test/api/channels/chat%3Aa/history?since=e1%3A4&limit=10&reverse=true',
      'GET http://hub.test/api/info',
      'GET http://hub.test/api/channels',
      'POST http://hub.test/api/broadcast',
    ]);
    expect(s.calls[3]!.body).toEqual({ channels: ['a', 'b'], data: 1 });
  });

  it('reads the history and presence of a user channel: the # of notifications:#ada is sent encoded, not cut as a URL fragment', async () => {
    await using srv = await startServer();
    const pub = createPublisher({ url: srv.url, apiKey: TEST_API_KEY });
    const sent = await pub.publish('notifications:#ada', { text: 'for ada' });
    const history = await pub.history('notifications:#ada');
    expect(history.publications.map((p) => [p.channel, p.offset, p.data])).toEqual([['notifications:#ada', sent.offset, { text: 'for ada' }]]);
    expect((await pub.presence('notifications:#ada')).channel).toBe('notifications:#ada');
  });

  it.each([
    [401, { code: 'unauthorized', message: 'no key', retryable: false }, 'unauthorized', false],
    [503, { code: 'unavailable', message: 'draining', retryable: true }, 'unavailable', true],
    [400, { code: 'bad_request', message: 'bad', retryable: false, issues: [{ path: 'body.channel', message: 'x' }] }, 'bad_request', false],
  ] as const)('maps HTTP %i with an ErrorBody to HubbubError %s', async (status, body, code, retryable) => {
    const pub = createPublisher({ url: 'http://hub.test', apiKey: 'key', fetch: stubFetch(() => json(status, body)).fetch });
    const err = await pub.publish('chat:a', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubbubError);
    expect(err).toMatchObject({ name: 'HubbubError', code, status, retryable, message: body.message });
    expect((err as HubbubError).issues).toEqual('issues' in body ? body.issues : undefined);
  });

  it('maps a non-JSON error page by its status', async () => {
    const pub = createPublisher({ url: 'http://hub.test', apiKey: 'key', fetch: stubFetch(() => new Response('<h1>Bad Gateway</h1>', { status: 502 })).fetch });
    await expect(pub.info()).rejects.toMatchObject({ name: 'HubbubError', code: 'unavailable', status: 502, retryable: true });
  });

  it('wraps a network failure as a retryable HubbubError with the cause', async () => {
    const cause = new TypeError('fetch failed');
    const pub = createPublisher({ url: 'http://hub.test', apiKey: 'key', fetch: () => Promise.reject(cause) });
    const err = (await pub.channels().catch((e: unknown) => e)) as HubbubError;
    expect(err).toBeInstanceOf(HubbubError);
    expect([err.code, err.status, err.retryable, err.cause]).toEqual(['unavailable', 0, true, cause]);
  });
});

describe('types come from the contract', () => {
  it('HubbubError codes are the keys of ERROR_TABLE; results are the contract schemas', () => {
    expectTypeOf<HubbubErrorCode>().toEqualTypeOf<keyof typeof ERROR_TABLE>();
    expectTypeOf<HubbubError['code']>().toEqualTypeOf<keyof typeof ERROR_TABLE>();
    expectTypeOf<PublishResult>().toEqualTypeOf<z.infer<typeof PublishResultSchema>>();
    type Pub = ReturnType<typeof createPublisher>;
    expectTypeOf<Awaited<ReturnType<Pub['history']>>>().toEqualTypeOf<z.infer<typeof HistoryResponse>>();
    const typeOnly = (pub: Pub) => {
      // @ts-expect-error data is required JSON (contract JsonData): undefined cannot be published
      void pub.publish('chat:a', undefined);
      // @ts-expect-error tags are string → string
      void pub.publish('chat:a', 1, { tags: { n: 1 } });
    };
    expectTypeOf(typeOnly).toBeFunction();
    expect(new HubbubError('not_found').status).toBe(404);
  });
});
