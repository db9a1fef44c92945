import { describe, expect, it, vi } from 'vitest';
import type { Hubbub } from '../client/index.js';
import { collect } from './support/collect.js';
import { tokenFor } from './support/fake-auth.js';
import { hubFixtures, next, only, record } from './support/hub-fixture.js';

// Server-side channels: the connection token lists channels (or the server API subscribes a user's
// WebSockets) and the server subscribes them itself. The client keeps them like its own channels —
// position, exactly-once, recovery across reconnects — and the app hears them through
// hub.on('publication') without knowing their names.

const { peer, hub } = hubFixtures();
const HOUR = 3_600_000;
const NOTES = 'notifications:#ada';
const withChannels = (...channels: string[]) => tokenFor(Date.now(), HOUR, { channels });
const dataOf = (pubs: Array<{ data: unknown }>) => pubs.map((p) => p.data);
const reconnected = (h: Hubbub) => new Promise((resolve) => h.once('disconnected', () => h.once('connected', resolve)));

describe.each(['websocket', 'sse', 'poll'] as const)('server-side channels over %s', (transport) => {
  it("delivers a token's channels through hub.on('publication') and hub.on('subscribed'), with no subscribe call", async () => {
    const p = await peer();
    const h = hub(p, { ...only(transport), token: withChannels(NOTES) });
    const pubs = record(h, 'publication');
    const subscribed = record(h, 'subscribed');
    await vi.waitFor(() => expect(h.serverChannels).toEqual([NOTES]));
    p.publish(NOTES, 1);
    p.publish(NOTES, 2);
    await vi.waitFor(() => expect(dataOf(pubs)).toEqual([1, 2]));
    expect(subscribed).toEqual([{ channel: NOTES, epoch: p.channel(NOTES).epoch, offset: 0, recovered: false }]);
    expect(p.wsFrames.filter((f) => f.type === 'subscribe')).toEqual([]);
  });

  it('recovers them after a reconnect from their positions: every publication once, in order', async () => {
    const p = await peer();
    const h = hub(p, { ...only(transport), token: withChannels(NOTES) });
    const pubs = record(h, 'publication');
    await vi.waitFor(() => expect(h.serverChannels).toEqual([NOTES]));
    p.publish(NOTES, 1);
    p.publish(NOTES, 2);
    await vi.waitFor(() => expect(dataOf(pubs)).toEqual([1, 2]));
    const down = next(h, 'disconnected');
    const mark = p.log.length;
    p.kick(4000);
    await down;
    // A sloppy recovery resends offset 2 as well: the client must drop it.
    p.overlap = 1;
    p.publish(NOTES, 3);
    await vi.waitFor(() => expect(dataOf(pubs)).toEqual([1, 2, 3]));
    p.publish(NOTES, 4);
    await vi.waitFor(() => expect(dataOf(pubs)).toEqual([1, 2, 3, 4]));
    expect(pubs.map((x) => x.offset)).toEqual([1, 2, 3, 4]);
    const position = { epoch: p.channel(NOTES).epoch, offset: 2 };
    // The server resumed the channel after offset 2: from `connect.positions` (WebSocket) or the cursor.
    expect(p.log[mark]).toMatchObject({ channels: [NOTES], since: [position] });
    if (transport === 'websocket') {
      expect(p.wsFrames.filter((f) => f.type === 'connect')[1]).toMatchObject({ positions: { [NOTES]: position } });
      expect(p.wsFrames.filter((f) => f.type === 'subscribe')).toEqual([]);
    }
  });

  // Regression: SSE and poll built the cursor from the app's channels only; the server appends the
  // token's channels and refused the request (400 invalid_cursor), for good.
  it('resumes an app channel from `since` with a token that lists channels: one cursor entry per channel, nothing refused', async () => {
    const p = await peer();
    p.publish('chat:a', 1);
    p.publish('chat:a', 2);
    const h = hub(p, { ...only(transport), token: withChannels(NOTES) });
    const errors = record(h, 'error');
    const since = { epoch: p.channel('chat:a').epoch, offset: 1 };
    const c = collect(h, 'chat:a', since);
    await vi.waitFor(() => expect(c.data()).toEqual([2]));
    await vi.waitFor(() => expect(h.serverChannels).toEqual([NOTES]));
    expect([errors, c.errors]).toEqual([[], []]);
    if (transport !== 'websocket') expect(p.log[0]).toMatchObject({ channels: ['chat:a', NOTES], since: [since, undefined] });
  });

  // Regression: over WebSocket the client subscribed a channel the server had already subscribed for
  // the token, and the subscription ended with already_subscribed.
  it('serves an app subscription to a channel the token lists, across a reconnect, with no error', async () => {
    const p = await peer();
    const h = hub(p, { ...only(transport), token: withChannels(NOTES) });
    const c = collect(h, NOTES);
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    p.publish(NOTES, 1);
    await vi.waitFor(() => expect(c.data()).toEqual([1]));
    const down = next(h, 'disconnected');
    p.kick(4000);
    await down;
    p.publish(NOTES, 2);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2]));
    expect(c.subscribed().map((s) => s.recovered)).toEqual([false, true]);
    expect([c.errors, c.sub.status, h.serverChannels]).toEqual([[], 'subscribed', []]);
    expect(p.wsFrames.filter((f) => f.type === 'subscribe')).toEqual([]);
  });

  it("emits 'publication' for app channels too, after the subscription's own onPublication", async () => {
    const p = await peer();
    const h = hub(p, only(transport));
    const order: string[] = [];
    h.on('publication', (x) => order.push(`hub ${String(x.data)}`));
    const subscribed = record(h, 'subscribed');
    h.subscribe('chat:a', { onPublication: (x) => order.push(`sub ${String(x.data)}`) });
    await vi.waitFor(() => expect(subscribed).toHaveLength(1));
    p.publish('chat:a', 1);
    p.publish('chat:a', 2);
    await vi.waitFor(() => expect(order).toEqual(['sub 1', 'hub 1', 'sub 2', 'hub 2']));
    expect(h.serverChannels).toEqual([]);
  });

  it('hands a server-side channel over to hub.subscribe at its position: nothing lost, nothing twice', async () => {
    const p = await peer();
    const h = hub(p, { ...only(transport), token: withChannels(NOTES) });
    const pubs = record(h, 'publication');
    await vi.waitFor(() => expect(h.serverChannels).toEqual([NOTES]));
    p.publish(NOTES, 1);
    await vi.waitFor(() => expect(dataOf(pubs)).toEqual([1]));
    const c = collect(h, NOTES);
    expect(h.serverChannels).toEqual([]);
    // Published while the app's subscribe is on its way (poll announces it with its next response).
    p.publish(NOTES, 2);
    await vi.waitFor(() => expect(c.data()).toEqual([2]));
    expect(c.subscribed()).toEqual([{ state: 'subscribed', recovered: true, epoch: p.channel(NOTES).epoch, offset: 1 }]);
    expect(dataOf(pubs)).toEqual([1, 2]);
    expect(c.errors).toEqual([]);
  });

  it('recovers a gap on a server-side channel instead of delivering past it', async () => {
    const p = await peer();
    const h = hub(p, { ...only(transport), token: withChannels(NOTES) });
    const pubs = record(h, 'publication');
    await vi.waitFor(() => expect(h.serverChannels).toEqual([NOTES]));
    p.publish(NOTES, 1);
    await vi.waitFor(() => expect(dataOf(pubs)).toEqual([1]));
    p.skipNext.add(NOTES);
    p.publish(NOTES, 2);
    p.publish(NOTES, 3);
    await vi.waitFor(() => expect(dataOf(pubs)).toEqual([1, 2, 3]));
    expect(h.serverChannels).toEqual([NOTES]);
  });
});

describe('server-side channels of the server API (WebSocket only)', () => {
  it("a user subscribe reaches the app through hub.on('publication'), and is gone after a reconnect", async () => {
    const p = await peer();
    // An opaque token: the client cannot read its claims, so only the server's connected reply can drop the channel.
    p.auth.opaque.add('session-1');
    const h = hub(p, { ...only('websocket'), token: 'session-1' });
    const pubs = record(h, 'publication');
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    p.userSubscribe('alerts:x');
    await vi.waitFor(() => expect(h.serverChannels).toEqual(['alerts:x']));
    p.publish('alerts:x', 'a1');
    await vi.waitFor(() => expect(dataOf(pubs)).toEqual(['a1']));
    const back = reconnected(h);
    p.kick(4000);
    await back;
    expect(h.serverChannels).toEqual([]);
    // Published after the reconnect: only the app's channel still reaches the client.
    p.publish('alerts:x', 'a2');
    p.publish('chat:a', 'c1');
    await vi.waitFor(() => expect(c.data()).toEqual(['c1']));
    expect(dataOf(pubs)).toEqual(['a1', 'c1']);
  });

  it('drops the server-side channels a new token no longer lists', async () => {
    const p = await peer();
    const [t1, t2] = [tokenFor(Date.now(), HOUR, { channels: [NOTES, 'alerts:#ada'] }), tokenFor(Date.now(), HOUR, { channels: [NOTES], n: 2 })];
    const issued = [t1, t2];
    const h = hub(p, { ...only('websocket'), getToken: async () => issued.shift() ?? t2 });
    await vi.waitFor(() => expect(h.serverChannels).toEqual([NOTES, 'alerts:#ada']));
    p.auth.expired.add(t1);
    p.kick(4004);
    await vi.waitFor(() => expect(p.wsFrames.filter((f) => f.type === 'connect').at(-1)?.token).toBe(t2));
    await vi.waitFor(() => expect([h.state, h.serverChannels]).toEqual(['connected', [NOTES]]));
  });

  it("an id-less unsubscribed ends a server-side channel, and an app subscription with reason 'server'", async () => {
    const p = await peer();
    const h = hub(p, { ...only('websocket'), token: withChannels(NOTES) });
    const pubs = record(h, 'publication');
    const a = collect(h, 'chat:a');
    const b = collect(h, 'chat:b');
    await vi.waitFor(() => expect([a.subscribed().length, b.subscribed().length, h.serverChannels]).toEqual([1, 1, [NOTES]]));
    p.userUnsubscribe(NOTES);
    p.userUnsubscribe('chat:a');
    await vi.waitFor(() => expect(a.sub.status).toBe('unsubscribed'));
    expect(a.states.at(-1)).toEqual({ state: 'unsubscribed', reason: 'server' });
    expect([h.serverChannels, a.errors]).toEqual([[], []]);
    p.publish(NOTES, 'n');
    p.publish('chat:a', 'a');
    p.publish('chat:b', 'b');
    await vi.waitFor(() => expect(b.data()).toEqual(['b']));
    expect(dataOf(pubs)).toEqual(['b']);
  });
});
