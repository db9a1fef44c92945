import { describe, expect, it, vi } from 'vitest';
import { refreshTime, tokenTimes } from '../client/auth.js';
import { collect } from './support/collect.js';
import { fakeJwt, tokenFor } from './support/fake-auth.js';
import { hubFixtures, only, record, tokens, virtualTime } from './support/hub-fixture.js';

// Tokens are refreshed ahead of their expiry, read from the JWT's `exp` (never verified by the
// client). Time is virtual: one clock for the client's timers, its `now` and the peer's token checks.

const { peer, hub } = hubFixtures();
const MIN = 60_000;

describe('token times', () => {
  it('reads exp and iat from the JWT payload (base64url without padding), in ms', () => {
    // 'ÿÿÿ' encodes with '_' in base64url, where plain base64 has '/'.
    const token = fakeJwt({ sub: 'ÿÿÿ', exp: 1_900_000_000, iat: 1_899_999_000 });
    expect(token.split('.')[1]).toMatch(/_/);
    expect(token).not.toMatch(/=/);
    expect(tokenTimes(token)).toEqual({ expires: 1_900_000_000_000, issued: 1_899_999_000_000 });
  });

  it('tolerates tokens that are not JWTs, or carry no numeric exp', () => {
    const b64 = (v: string) => Buffer.from(v).toString('base64url');
    for (const token of ['opaque-session-id', 'a.b.c', `x.${b64('not json')}.y`, `x.${b64('[1]')}.y`, `x.${b64('{"exp":"soon"}')}.y`, fakeJwt({}), '..']) {
      expect(tokenTimes(token), token).toEqual({});
      expect(refreshTime(token, 0), token).toBeUndefined();
    }
  });

  it('refreshes at exp − min(60 s, 10% of the lifetime), the lifetime counted from iat, else from when the token was obtained', () => {
    const t0 = Date.UTC(2026, 10, 27, 9);
    expect(refreshTime(tokenFor(t0, 60 * MIN), t0) ?? 0).toBe(t0 + 59 * MIN);
    expect(refreshTime(tokenFor(t0, 5 * MIN), t0) ?? 0).toBe(t0 + 4.5 * MIN);
    // Issued two minutes before it was obtained: 10% of its 5-minute lifetime still applies.
    expect(refreshTime(tokenFor(t0 - 2 * MIN, 5 * MIN), t0) ?? 0).toBe(t0 + 2.5 * MIN);
    const noIat = fakeJwt({ exp: (t0 + 5 * MIN) / 1000 });
    expect(refreshTime(noIat, t0) ?? 0).toBe(t0 + 4.5 * MIN);
  });
});

describe('connection token refresh ahead of expiry', () => {
  it('websocket: sends the refresh command with the fresh token, and keeps the connection', async () => {
    const p = await peer();
    const { timers, now, options } = virtualTime(p);
    const t1 = tokenFor(now(), 5 * MIN, { n: 1 });
    const t2 = tokenFor(now() + 4.5 * MIN, 5 * MIN, { n: 2 });
    const t = tokens(t1, t2);
    const h = hub(p, { ...options, ...only('websocket'), getToken: t.getToken });
    const down = record(h, 'disconnected');
    const errors = record(h, 'error');
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    timers.advance(4.5 * MIN - 1);
    expect(t.calls()).toBe(1);
    timers.advance(1);
    expect(t.calls()).toBe(2);
    await vi.waitFor(() => expect(p.wsFrames.filter((f) => f.type === 'refresh')).toEqual([{ id: expect.any(Number), type: 'refresh', token: t2 }]));
    // Past the first token's expiry the same connection still delivers.
    timers.advance(MIN);
    p.publish('chat:a', 1);
    await vi.waitFor(() => expect(c.data()).toEqual([1]));
    expect([down, errors, p.attempts]).toEqual([[], [], ['websocket']]);
    // The fresh token's own refresh is scheduled in turn.
    timers.advance(4 * MIN);
    expect(t.calls()).toBe(3);
  });

  it('sse: keeps the healthy stream; when the server ends it at expiry (4004) it reconnects with the fresh token and resumes', async () => {
    const p = await peer();
    const { timers, now, options } = virtualTime(p);
    const t1 = tokenFor(now(), 5 * MIN, { n: 1 });
    const t2 = tokenFor(now() + 4.5 * MIN, 5 * MIN, { n: 2 });
    const t = tokens(t1, t2);
    const h = hub(p, { ...options, ...only('sse'), getToken: t.getToken });
    const down = record(h, 'disconnected');
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    p.publish('chat:a', 1);
    await vi.waitFor(() => expect(c.data()).toEqual([1]));
    timers.advance(4.5 * MIN);
    expect(t.calls()).toBe(2);
    // Give a wrongly restarted stream the time to reach the peer: none may.
    await new Promise((resolve) => setImmediate(resolve));
    expect([p.log.length, p.openSseStreams, down]).toEqual([1, 1, []]);

    timers.advance(0.5 * MIN);
    p.kick(4004);
    await vi.waitFor(() => expect(down).toHaveLength(1));
    expect(down[0]).toMatchObject({ code: 4004, reconnectIn: 0 });
    timers.advance(0);
    p.publish('chat:a', 2);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2]));
    expect(p.log[1]).toMatchObject({ authorization: `Bearer ${t2}`, since: [{ epoch: p.channel('chat:a').epoch, offset: 1 }] });
    expect(t.calls()).toBe(2);
  });

  it('poll: the next request carries the fresh token', async () => {
    const p = await peer();
    const { timers, now, options } = virtualTime(p);
    const t1 = tokenFor(now(), 5 * MIN, { n: 1 });
    const t2 = tokenFor(now() + 4.5 * MIN, 5 * MIN, { n: 2 });
    const t = tokens(t1, t2);
    const h = hub(p, { ...options, ...only('poll'), getToken: t.getToken });
    const down = record(h, 'disconnected');
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    await vi.waitFor(() => expect(p.log).toHaveLength(2));
    timers.advance(4.5 * MIN);
    p.publish('chat:a', 1);
    await vi.waitFor(() => expect(p.log).toHaveLength(3));
    expect(p.log.map((l) => l.authorization)).toEqual([`Bearer ${t1}`, `Bearer ${t1}`, `Bearer ${t2}`]);
    expect(c.data()).toEqual([1]);
    expect(down).toEqual([]);
  });

  it('retries a getToken that fails at refresh time, after a backoff, and reports the failure', async () => {
    const p = await peer();
    const { timers, now, options } = virtualTime(p);
    const t2 = tokenFor(now() + 4.5 * MIN, 5 * MIN, { n: 2 });
    let calls = 0;
    const getToken = async () => {
      calls++;
      if (calls === 2) throw new Error('auth backend down');
      return calls === 1 ? tokenFor(now(), 5 * MIN, { n: 1 }) : t2;
    };
    const h = hub(p, { ...options, ...only('websocket'), getToken, random: () => 0.5, minReconnectDelay: 1000 });
    const errors = record(h, 'error');
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    timers.advance(4.5 * MIN);
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(errors[0]!.message).toContain('auth backend down');
    timers.advance(499);
    expect(calls).toBe(2);
    timers.advance(1);
    expect(calls).toBe(3);
    await vi.waitFor(() => expect(p.wsFrames.filter((f) => f.type === 'refresh').map((f) => f.token)).toEqual([t2]));
    expect(h.state).toBe('connected');
  });
});
