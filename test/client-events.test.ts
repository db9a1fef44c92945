import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Hubbub, type Publication, type TransportName } from '../client/index.js';
import { createPublisher } from '../client/publisher.js';
import { ChannelState, Subscription } from '../client/subscription.js';
import { TEST_API_KEY, type TestServer } from './support/server.js';
import { TOKEN_SECRET, startWithConfig } from './support/secured.js';
import { signToken } from './support/tokens.js';

// subscription.on(event, fn) (issue #10) on a real server, over every transport: a handler gets the
// publications of its event name only, in order, with their data and the publication; onPublication
// still gets every one. Publishes come from the typed publisher (REST) and from hub.publish.

const SLOW = { timeout: 10_000 };
const CONFIG = `
namespaces:
  chat:
    subscribe: anyone
    publish: authenticated
`;
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(): Promise<TestServer> {
  const srv = await startWithConfig(CONFIG);
  cleanups.push(() => srv.close());
  return srv;
}

function client(srv: TestServer, transport: TransportName, token?: string): Hubbub {
  const h = new Hubbub(srv.url, { WebSocket, transports: [transport], random: () => 0, pollTimeout: 5_000, ...(token ? { token } : {}) });
  cleanups.push(() => h.close());
  return h;
}

describe.each(['websocket', 'sse', 'poll'] as const)('subscription.on over %s', (transport) => {
  it('calls a handler with the data and publication of its event only, in order; onPublication gets every one', async () => {
    const srv = await server();
    const publisher = createPublisher({ url: srv.url, apiKey: TEST_API_KEY });
    const h = client(srv, transport);
    const all: Publication[] = [];
    let subscribed!: () => void;
    const ready = new Promise<void>((resolve) => (subscribed = resolve));
    const sub = h.subscribe('chat:room', { onPublication: (p) => all.push(p), onSubscribed: () => subscribed() });
    await ready;
    const creates: Array<[unknown, number]> = [];
    const updates: unknown[] = [];
    sub.on('create', (data, pub) => creates.push([data, pub.offset]));
    const stopUpdates = sub.on('update', (data) => updates.push(data));

    await publisher.publish('chat:room', { id: 1 }, { event: 'create' });
    await publisher.publish('chat:room', { id: 1, v: 2 }, { event: 'update' });
    await publisher.publish('chat:room', 'no event');
    await publisher.broadcast(['chat:room', 'chat:other'], { id: 2 }, { event: 'create' });
    await vi.waitFor(() => expect(all).toHaveLength(4), SLOW);
    stopUpdates();
    await publisher.publish('chat:room', { id: 2, v: 2 }, { event: 'update' });
    await publisher.publish('chat:room', { id: 3 }, { event: 'create.later' });
    await vi.waitFor(() => expect(all).toHaveLength(6), SLOW);

    expect(all.map((p) => p.event)).toEqual(['create', 'update', undefined, 'create', 'update', 'create.later']);
    expect(creates).toEqual([
      [{ id: 1 }, 1],
      [{ id: 2 }, 4],
    ]);
    expect(updates).toEqual([{ id: 1, v: 2 }]);
    expect(sub.status).toBe('subscribed');
  });
});

describe('hub.publish with an event', () => {
  it.each(['websocket', 'sse'] as const)('names the publication over %s (a WebSocket command, else POST /publish)', async (transport) => {
    const srv = await server();
    const token = await signToken(TOKEN_SECRET, { sub: 'ada' }, { expiresIn: 600 });
    const h = client(srv, transport, token);
    const said: Array<[unknown, string | undefined]> = [];
    await new Promise<void>((resolve) => {
      const sub = h.subscribe('chat:room', { onSubscribed: () => resolve() });
      sub.on('say', (data, pub) => said.push([data, pub.publisher?.user]));
    });
    await h.publish('chat:room', 'hello', { event: 'say' });
    await h.publish('chat:room', 'unnamed');
    await h.publish('chat:room', 'again', { event: 'say' });
    await vi.waitFor(() => expect(said).toEqual([['hello', 'ada'], ['again', 'ada']]), SLOW);
  });

  it('rejects a malformed event name with bad_request from the server', async () => {
    const srv = await server();
    const publisher = createPublisher({ url: srv.url, apiKey: TEST_API_KEY });
    await expect(publisher.publish('chat:room', 1, { event: 'not ok' })).rejects.toMatchObject({
      name: 'HubbubError',
      code: 'bad_request',
      status: 400,
      issues: [{ path: 'body.event', message: expect.stringContaining('invalid event name') }],
    });
  });
});

describe('Subscription.on and off (no server)', () => {
  const pub = (offset: number, event?: string): Publication => ({ channel: 'chat:a', epoch: 'e1', offset, data: offset, time: 0, ...(event ? { event } : {}) });

  it('removes a handler by the function on returns or by off, also from inside a handler; a throwing one stops nobody', () => {
    const deferred: Array<() => void> = [];
    vi.stubGlobal('queueMicrotask', (fn: () => void) => deferred.push(fn));
    try {
      const seen: string[] = [];
      const state = new ChannelState('chat:a', { onPublication: (p) => seen.push(`all:${p.offset}`) });
      const sub = new Subscription(state, () => undefined);
      state.subscribed({ channel: 'chat:a', epoch: 'e1', offset: 0, recovered: false });
      const once = (data: unknown) => {
        seen.push(`once:${String(data)}`);
        sub.off('create', once);
      };
      sub.on('create', () => {
        throw new Error('app bug');
      });
      sub.on('create', once);
      const stop = sub.on('create', (data) => seen.push(`create:${String(data)}`));
      sub.on('create.other', (data) => seen.push(`other:${String(data)}`));
      expect([state.publication(pub(1, 'create')), state.publication(pub(2)), state.publication(pub(3, 'create'))]).toEqual(['delivered', 'delivered', 'delivered']);
      stop();
      state.publication(pub(4, 'create'));
      state.publication(pub(5, 'create.other'));
      expect(seen).toEqual(['all:1', 'once:1', 'create:1', 'all:2', 'all:3', 'create:3', 'all:4', 'all:5', 'other:5']);
      // The throwing handler ran for offsets 1, 3 and 4; each error is rethrown on a later task.
      expect(deferred).toHaveLength(3);
      expect(() => deferred[0]!()).toThrow('app bug');
      expect(state.position).toEqual({ epoch: 'e1', offset: 5 });
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
