import { describe, expect, it, vi } from 'vitest';
import { EventSource } from 'eventsource';
import { HubbubDisconnectError, HubbubError, type EventSourceLike, type TransportName } from '../client/index.js';
import { collect } from './support/collect.js';
import { tokenFor } from './support/fake-auth.js';
import { hubFixtures, next, only, record, tokens, virtualTime } from './support/hub-fixture.js';

// The connection token on every transport: how it is sent, when getToken is asked, and what the
// client does with each refusal of the contract (token_expired, token_invalid, forbidden, rate_limited).

const { peer, hub } = hubFixtures();
const hour = 3_600_000;
const fresh = (n = 0) => tokenFor(Date.now(), hour, { n });

describe.each(['websocket', 'sse', 'poll'] as const)('connection token over %s', (transport) => {
  /** The connection tokens the peer saw, in order, a repeat counted once (long-poll sends one with every request). */
  const sentTokens = (p: Awaited<ReturnType<typeof peer>>) => {
    const all =
      transport === 'websocket'
        ? p.wsFrames.filter((f) => f.type === 'connect').map((f) => f.token)
        : p.log.map((l) => l.authorization?.replace('Bearer ', '') ?? l.token);
    return all.filter((t, i) => i === 0 || t !== all[i - 1]);
  };

  it('is sent on connect: the first WebSocket command, or the Authorization header (never the URL) over fetch', async () => {
    const p = await peer();
    const token = fresh();
    const c = collect(hub(p, { ...only(transport), token }), 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    if (transport === 'websocket') {
      expect(p.wsFrames.slice(0, 2)).toEqual([{ id: expect.any(Number), type: 'connect', token }, expect.objectContaining({ type: 'subscribe' })]);
    } else {
      expect(p.log[0]).toMatchObject({ authorization: `Bearer ${token}` });
      expect(p.log[0]!.token).toBeUndefined();
    }
  });

  it('comes from getToken before the first connect when no token is given', async () => {
    const p = await peer();
    const t = tokens(fresh());
    const c = collect(hub(p, { ...only(transport), getToken: t.getToken }), 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    expect(t.calls()).toBe(1);
    expect(sentTokens(p)).toEqual([await t.getToken()]);
  });

  it('after token_expired at connect, a fresh token is fetched and the client connects again at once', async () => {
    const p = await peer();
    p.auth.opaque.add('old').add('new');
    p.auth.expired.add('old');
    const t = tokens('new');
    const h = hub(p, { ...only(transport), token: 'old', getToken: t.getToken });
    const down = record(h, 'disconnected');
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    expect(sentTokens(p)).toEqual(['old', 'new']);
    expect(t.calls()).toBe(1);
    expect(down).toEqual([expect.objectContaining({ reconnectIn: 0 })]);
  });

  it('after the server ends the connection because the token expired (4004), resumes with a fresh token: no loss, no duplicate', async () => {
    const p = await peer();
    const first = fresh(1);
    const t = tokens(first, fresh(2));
    const h = hub(p, { ...only(transport), getToken: t.getToken });
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    p.publish('chat:a', 1);
    p.publish('chat:a', 2);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2]));
    p.auth.expired.add(first);
    const mark = p.log.length;
    p.kick(4004);
    p.publish('chat:a', 3);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2, 3]));
    p.publish('chat:a', 4);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2, 3, 4]));
    expect(c.pubs.map((x) => x.offset)).toEqual([1, 2, 3, 4]);
    expect(t.calls()).toBe(2);
    expect(sentTokens(p).at(-1)).toBe(await t.getToken());
    expect(p.log[mark]!.since).toEqual([{ epoch: p.channel('chat:a').epoch, offset: 2 }]);
    expect(c.subscribed().map((s) => s.recovered)).toEqual([false, true]);
  });

  it('stops with HubbubError token_expired when a static token expired and there is no getToken: no reconnect loop', async () => {
    const p = await peer();
    p.auth.opaque.add('static');
    p.auth.expired.add('static');
    const h = hub(p, { ...only(transport), token: 'static' });
    const c = collect(h, 'chat:a');
    const [info] = await next(h, 'closed');
    expect(info.error).toBeInstanceOf(HubbubError);
    expect(info.error).toMatchObject({ code: 'token_expired' });
    expect(h.state).toBe('closed');
    expect(c.sub.status).toBe('unsubscribed');
    expect(p.attempts).toEqual([transport]);
  });

  it('treats a getToken that throws like a failed connect: it backs off and tries again', async () => {
    const p = await peer();
    let calls = 0;
    const token = fresh();
    const getToken = async () => {
      if (++calls === 1) throw new Error('auth backend down');
      return token;
    };
    const h = hub(p, { ...only(transport), getToken });
    const errors = record(h, 'error');
    const [down] = await next(h, 'disconnected');
    expect(down.reason).toContain('auth backend down');
    expect(p.attempts).toEqual([]);
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    expect(calls).toBe(2);
    expect(errors[0]?.message).toContain('auth backend down');
  });

  it('stops on a token_invalid refusal at connect, without trying another transport', async () => {
    const p = await peer();
    p.auth.revoked.add('bad');
    p.auth.opaque.add('bad');
    const other: TransportName = transport === 'poll' ? 'sse' : 'poll';
    const h = hub(p, { transports: [transport, other], token: 'bad' });
    collect(h, 'chat:a');
    const [info] = await next(h, 'closed');
    expect(info.error).toMatchObject({ code: 'token_invalid' });
    expect(p.attempts).toEqual([transport]);
  });
});

describe.each(['websocket', 'sse', 'poll'] as const)('rate limits over %s', (transport) => {
  it('backs off on rate_limited, for at least the Retry-After the server sent, and does not try another transport', async () => {
    const p = await peer();
    const { timers, now, options } = virtualTime(p);
    p.auth.rateLimit = { times: 1, retryAfter: 7 };
    const other: TransportName = transport === 'poll' ? 'sse' : 'poll';
    const h = hub(p, { ...options, transports: [transport, other], token: tokenFor(now(), hour) });
    const c = collect(h, 'chat:a');
    const [down] = await next(h, 'disconnected');
    // A WebSocket error frame carries no Retry-After: the plain backoff (0 here) applies.
    expect(down.reconnectIn).toBe(transport === 'websocket' ? 0 : 7_000);
    expect(p.attempts).toEqual([transport]);
    if (down.reconnectIn > 0) {
      timers.advance(down.reconnectIn - 1);
      expect(p.attempts).toEqual([transport]);
    }
    timers.advance(down.reconnectIn > 0 ? 1 : 0);
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    expect(p.attempts.slice(0, 2)).toEqual([transport, transport]);
    expect(p.attempts).not.toContain(other);
  });
});

describe.each(['websocket', 'sse'] as const)('rate_limited disconnect (4006) over %s', (transport) => {
  it('reconnects after a backoff and resumes from the position', async () => {
    const p = await peer();
    const h = hub(p, { ...only(transport), token: fresh(), random: () => 0.5, minReconnectDelay: 40 });
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    p.publish('chat:a', 1);
    await vi.waitFor(() => expect(c.data()).toEqual([1]));
    const down = next(h, 'disconnected');
    p.kick(4006);
    expect((await down)[0]).toMatchObject({ code: 4006, reconnectIn: 20 });
    p.publish('chat:a', 2);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2]));
    expect(c.subscribed().map((s) => s.recovered)).toEqual([false, true]);
  });
});

describe('terminal disconnects', () => {
  it.each([
    [4501, 'token_invalid'],
    [4502, 'forbidden'],
    [4500, 'disconnected_by_server'],
  ])('a WebSocket closed with %i stops the client with HubbubDisconnectError naming %s', async (code, name) => {
    const p = await peer();
    const h = hub(p, { ...only('websocket'), token: fresh() });
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    const closed = next(h, 'closed');
    p.kick(code);
    const [info] = await closed;
    expect(info.error).toBeInstanceOf(HubbubDisconnectError);
    expect(info.error).toMatchObject({ code, disconnect: name });
  });
});

describe('SSE with a native EventSource (no request headers)', () => {
  it('sends the connection token as the token query parameter', async () => {
    const p = await peer();
    const token = fresh();
    // A class without the eventsource package's fetch-override mark is taken as one that cannot send headers.
    const NativeLike = class {
      constructor(url: string) {
        return new EventSource(url) as unknown as EventSourceLike;
      }
    } as unknown as new (url: string) => EventSourceLike;
    const c = collect(hub(p, { ...only('sse'), EventSource: NativeLike, token }), 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    expect(p.log[0]).toMatchObject({ token });
    expect(p.log[0]!.authorization).toBeUndefined();
  });
});
