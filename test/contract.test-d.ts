import type { ClientInferRequest, ClientInferResponseBody, ServerInferRequest } from '@ts-rest/core';
import { describe, expectTypeOf, it } from 'vitest';
import type { Api, ClientFrame, ErrorCode, JsonData, Publication, ServerFrame, SseConnectedEvent } from '../contract/index.js';

/** Type-level pins of the contract: a change here changes what every client compiles against. */
describe('contract types', () => {
  it('publish takes a channel, any JSON data and optional event name/tags/idempotency key', () => {
    expectTypeOf<ServerInferRequest<Api['publish']>['body']['data']>().toEqualTypeOf<JsonData>();
    type Body = ClientInferRequest<Api['publish']>['body'];
    expectTypeOf<Body>().toEqualTypeOf<{
      channel: string;
      data: JsonData;
      event?: string | undefined;
      tags?: Record<string, string> | undefined;
      idempotencyKey?: string | undefined;
    }>();
    expectTypeOf<ClientInferResponseBody<Api['publish'], 200>>().toEqualTypeOf<{ channel: string; epoch: string; offset: number }>();
  });

  it('a publication carries an optional event name, on every frame that holds one', () => {
    expectTypeOf<Publication['event']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ClientInferRequest<Api['broadcast']>['body']['event']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<Extract<ClientFrame, { type: 'publish' }>['event']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<Extract<ServerFrame, { type: 'publication' }>['event']>().toEqualTypeOf<string | undefined>();
  });

  it('data is any JSON value but never undefined, and cannot be left out', () => {
    // @ts-expect-error data is required
    const missing: ClientInferRequest<Api['publish']>['body'] = { channel: 'a' };
    void missing;
    expectTypeOf<undefined>().not.toMatchTypeOf<JsonData>();
    expectTypeOf<{ a: 1 }>().toMatchTypeOf<JsonData>();
    expectTypeOf<null>().toMatchTypeOf<JsonData>();
  });

  it('history parses since as a position and reverse as a boolean on the server', () => {
    type Query = ServerInferRequest<Api['history']>['query'];
    expectTypeOf<Query['since']>().toEqualTypeOf<{ epoch: string; offset: number } | undefined>();
    expectTypeOf<Query['reverse']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf<ClientInferRequest<Api['history']>['params']>().toEqualTypeOf<{ channel: string }>();
  });

  it('error responses carry a code from the table', () => {
    type E = ClientInferResponseBody<Api['publish'], 413>;
    expectTypeOf<E['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<'no_such_code'>().not.toMatchTypeOf<ErrorCode>();
  });

  it('frames are discriminated unions', () => {
    expectTypeOf<ClientFrame['type']>().toEqualTypeOf<'connect' | 'subscribe' | 'unsubscribe' | 'ping' | 'refresh' | 'publish'>();
    expectTypeOf<ServerFrame['type']>().toEqualTypeOf<
      'connected' | 'subscribed' | 'unsubscribed' | 'pong' | 'refreshed' | 'published' | 'error' | 'publication'
    >();
    expectTypeOf<Extract<ServerFrame, { type: 'publication' }>>().toMatchTypeOf<Publication>();
  });

  it('the SSE connected event is the WebSocket connected greeting without its type, command id and connect-reply channels', () => {
    expectTypeOf<SseConnectedEvent>().toEqualTypeOf<Omit<Extract<ServerFrame, { type: 'connected' }>, 'type' | 'id' | 'channels'>>();
  });
});
