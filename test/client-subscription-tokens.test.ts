import { describe, expect, it, vi } from 'vitest';
import { collect } from './support/collect.js';
import { tokenFor } from './support/fake-auth.js';
import { collectWith, hubFixtures, only, record, tokens, virtualTime } from './support/hub-fixture.js';

// Subscription tokens: per channel, sent with the subscribe (WebSocket frame field, or the
// `tokens` query parameter aligned with `channels`), refreshed like the connection token.

const { peer, hub } = hubFixtures();
const MIN = 60_000;
const HOUR = 60 * MIN;

describe.each(['websocket', 'sse', 'poll'] as const)('subscription tokens over %s', (transport) => {
  it('are sent with the subscribe: the frame field, or the tokens parameter with empty entries where a channel has none', async () => {
    const p = await peer();
    p.auth.protectedChannels.add('chat:b');
    const tb = tokenFor(Date.now(), HOUR, { channel: 'chat:b' });
    const h = hub(p, only(transport));
    const a = collect(h, 'chat:a');
    await vi.waitFor(() => expect(a.subscribed()).toHaveLength(1));
    const b = collectWith(h, 'chat:b', { token: tb });
    await vi.waitFor(() => expect(b.subscribed()).toHaveLength(1));
    if (transport === 'websocket') {
      const subs = p.wsFrames.filter((f) => f.type === 'subscribe');
      expect(subs.map((f) => [f.channel, f.token])).toEqual([
        ['chat:a', undefined],
        ['chat:b', tb],
      ]);
    } else {
      expect(p.log[0]!.tokens).toBeUndefined();
      expect(p.log.at(-1)).toMatchObject({ channels: ['chat:a', 'chat:b'], tokens: `,${tb}` });
    }
  });

  it('come from getToken(channel) when no token is given; a user channel (#) reaches the server intact', async () => {
    const p = await peer();
    const channel = 'dm:#ada~bob';
    p.auth.protectedChannels.add(channel);
    const asked: string[] = [];
    const token = tokenFor(Date.now(), HOUR, { channel });
    const h = hub(p, { ...only(transport), token: tokenFor(Date.now(), HOUR) });
    const c = collectWith(h, channel, { getToken: async (ch) => (asked.push(ch), token) });
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    p.publish(channel, 'hi bob');
    await vi.waitFor(() => expect(c.data()).toEqual(['hi bob']));
    expect(asked).toEqual([channel]);
    if (transport === 'websocket') expect(p.wsFrames.find((f) => f.type === 'subscribe')).toMatchObject({ channel, token });
    else expect(p.log[0]).toMatchObject({ channels: [channel], tokens: token });
  });

  it('are refreshed ahead of expiry: the refresh command with the channel, or the next request', async () => {
    const p = await peer();
    const { timers, now, options } = virtualTime(p);
    p.auth.protectedChannels.add('chat:b');
    const t1 = tokenFor(now(), 5 * MIN, { channel: 'chat:b', n: 1 });
    const t2 = tokenFor(now() + 4.5 * MIN, 5 * MIN, { channel: 'chat:b', n: 2 });
    const t = tokens(t1, t2);
    const h = hub(p, { ...options, ...only(transport) });
    const down = record(h, 'disconnected');
    const b = collectWith(h, 'chat:b', { getToken: t.getToken });
    await vi.waitFor(() => expect(b.subscribed()).toHaveLength(1));
    timers.advance(4.5 * MIN);
    expect(t.calls()).toBe(2);
    if (transport === 'websocket') {
      await vi.waitFor(() => expect(p.wsFrames.filter((f) => f.type === 'refresh')).toEqual([{ id: expect.any(Number), type: 'refresh', token: t2, channel: 'chat:b' }]));
    } else {
      // The server ends the stream (or refuses the poll) once the old token expires; the next request carries the new one.
      timers.advance(0.5 * MIN);
      p.kick(4004);
      await vi.waitFor(() => expect(down).toHaveLength(1));
      timers.advance(0);
      await vi.waitFor(() => expect(p.log.at(-1)!.tokens).toBe(t2));
    }
    p.publish('chat:b', 1);
    await vi.waitFor(() => expect(b.data()).toEqual([1]));
    expect(t.calls()).toBe(2);
    if (transport === 'websocket') expect(down).toEqual([]);
  });
});

describe('subscription token refusals over websocket', () => {
  it('after a subscribe refused with token_expired, fetches a fresh token and subscribes again', async () => {
    const p = await peer();
    p.auth.protectedChannels.add('chat:b');
    p.auth.opaque.add('old').add('new');
    p.auth.expired.add('old');
    const asked: string[] = [];
    const h = hub(p, only('websocket'));
    const b = collectWith(h, 'chat:b', { token: 'old', getToken: async (ch) => (asked.push(ch), 'new') });
    await vi.waitFor(() => expect(b.subscribed()).toHaveLength(1));
    expect(p.wsFrames.filter((f) => f.type === 'subscribe').map((f) => f.token)).toEqual(['old', 'new']);
    expect(asked).toEqual(['chat:b']);
    expect(b.errors).toEqual([]);
  });

  it('ends the subscription with token_expired when there is no getToken, and keeps the connection', async () => {
    const p = await peer();
    p.auth.protectedChannels.add('chat:b');
    p.auth.opaque.add('old');
    p.auth.expired.add('old');
    const h = hub(p, only('websocket'));
    const a = collect(h, 'chat:a');
    const b = collectWith(h, 'chat:b', { token: 'old' });
    await vi.waitFor(() => expect(b.errors).toHaveLength(1));
    expect(b.errors[0]).toMatchObject({ name: 'HubbubError', code: 'token_expired' });
    expect(b.sub.status).toBe('unsubscribed');
    await vi.waitFor(() => expect(a.subscribed()).toHaveLength(1));
    expect(h.state).toBe('connected');
  });

  it('ends the subscription on forbidden', async () => {
    const p = await peer();
    p.auth.protectedChannels.add('chat:b');
    const h = hub(p, only('websocket'));
    const b = collect(h, 'chat:b');
    await vi.waitFor(() => expect(b.errors).toHaveLength(1));
    expect(b.errors[0]).toMatchObject({ code: 'forbidden' });
    expect(h.state).toBe('connected');
  });
});
