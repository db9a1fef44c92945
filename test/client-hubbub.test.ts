import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Hubbub, HubbubDisconnectError, HubbubNoTransportError, type HubbubOptions, type TransportName } from '../client/index.js';
import { collect } from './support/collect.js';
import { FakePeer } from './support/fake-peer.js';
import { ManualTimers } from './support/manual-timers.js';

/* ---------- Fixtures ---------- */

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function peer(port = 0): Promise<FakePeer> {
  const p = await FakePeer.start(port);
  cleanups.push(() => p.close());
  return p;
}

/** random: () => 0 makes every reconnect delay 0, so reconnect tests wait on events only. */
function hub(p: FakePeer, options: HubbubOptions = {}): Hubbub {
  const h = new Hubbub(p.url, { WebSocket, random: () => 0, pollTimeout: 5_000, ...options });
  cleanups.push(() => h.close());
  return h;
}

/** Only this transport, so one suite runs the same behaviour over each. */
const only = (t: TransportName): HubbubOptions => ({ transports: [t] });

/* ---------- The behaviour every transport must have ---------- */

describe.each(['websocket', 'sse', 'poll'] as const)('Hubbub over %s', (transport) => {
  it('connects, announces the transport and delivers publications in order', async () => {
    const p = await peer();
    const h = hub(p, only(transport));
    const seen: TransportName[] = [];
    h.on('transport', (name) => seen.push(name));
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    expect(c.subscribed()[0]).toMatchObject({ recovered: false, offset: 0 });
    for (let i = 1; i <= 5; i++) p.publish('chat:a', i);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2, 3, 4, 5]));
    expect(h.transport).toBe(transport);
    expect(seen).toEqual([transport]);
    expect(c.sub.position).toEqual({ epoch: p.channel('chat:a').epoch, offset: 5 });
  });

  it('recovers from `since` and reports recovered:true', async () => {
    const p = await peer();
    for (let i = 1; i <= 4; i++) p.publish('chat:a', i);
    const c = collect(hub(p, only(transport)), 'chat:a', { epoch: p.channel('chat:a').epoch, offset: 2 });
    await vi.waitFor(() => expect(c.data()).toEqual([3, 4]));
    expect(c.subscribed()[0]!.recovered).toBe(true);
  });

  it('reconnects after a reconnectable close and resubscribes from the last position, without duplicates', async () => {
    const p = await peer();
    const h = hub(p, only(transport));
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    p.publish('chat:a', 1);
    p.publish('chat:a', 2);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2]));
    const down = new Promise((resolve) => h.once('disconnected', resolve));
    const mark = p.log.length;
    p.kick(4000);
    await down;
    p.overlap = 2;
    p.publish('chat:a', 3);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2, 3]));
    p.publish('chat:a', 4);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2, 3, 4]));
    expect(c.pubs.map((x) => x.offset)).toEqual([1, 2, 3, 4]);
    expect(c.subscribed().map((s) => s.recovered)).toEqual([false, true]);
    // The first request after the reconnect resumes after offset 2, the last one delivered before it.
    expect(p.log[mark]!.since).toEqual([{ epoch: p.channel('chat:a').epoch, offset: 2 }]);
    expect(c.states.map((s) => s.state)).toContain('subscribing');
  });

  it('says recovered:false when the server cannot recover after a reconnect', async () => {
    const p = await peer();
    const h = hub(p, only(transport));
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    p.publish('chat:a', 'old');
    await vi.waitFor(() => expect(c.data()).toEqual(['old']));
    const down = new Promise((resolve) => h.once('disconnected', resolve));
    p.kick(4001);
    await down;
    p.resetEpoch('chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(2));
    expect(c.subscribed()[1]).toMatchObject({ recovered: false, epoch: p.channel('chat:a').epoch, offset: 0 });
    p.publish('chat:a', 'new');
    await vi.waitFor(() => expect(c.data()).toEqual(['old', 'new']));
  });

  it('subscribes and unsubscribes while connected', async () => {
    const p = await peer();
    const h = hub(p, only(transport));
    const a = collect(h, 'chat:a');
    await vi.waitFor(() => expect(a.subscribed()).toHaveLength(1));
    p.publish('chat:a', 'a1');
    await vi.waitFor(() => expect(a.data()).toEqual(['a1']));
    const b = collect(h, 'chat:b');
    await vi.waitFor(() => expect(b.subscribed()).toHaveLength(1));
    // SSE and poll restart their request with both channels and a's position: a loses nothing.
    p.publish('chat:a', 'a2');
    p.publish('chat:b', 'b1');
    await vi.waitFor(() => expect([a.data(), b.data()]).toEqual([['a1', 'a2'], ['b1']]));
    a.sub.unsubscribe();
    expect(a.sub.status).toBe('unsubscribed');
    p.publish('chat:a', 'a3');
    p.publish('chat:b', 'b2');
    await vi.waitFor(() => expect(b.data()).toEqual(['b1', 'b2']));
    expect(a.data()).toEqual(['a1', 'a2']);
    expect(a.subscribed()).toHaveLength(1);
  });

  it('stops on a terminal close and surfaces the error', async () => {
    const p = await peer();
    const h = hub(p, only(transport));
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    const errors: Error[] = [];
    h.on('error', (e) => errors.push(e));
    const closed = new Promise((resolve) => h.once('closed', resolve));
    p.kick(4501);
    await closed;
    expect(h.state).toBe('closed');
    expect(errors).toHaveLength(1);
    expect(c.errors).toEqual(errors);
    if (transport === 'poll') expect(errors[0]).toMatchObject({ name: 'HubbubError', code: 'bad_request', status: 400 });
    else expect(errors[0]).toBeInstanceOf(HubbubDisconnectError);
    expect(c.states.at(-1)).toMatchObject({ state: 'unsubscribed', reason: 'closed' });
  });
});

/* ---------- Transport-specific cases: streaming transports see live gaps ---------- */

describe.each(['websocket', 'sse'] as const)('Hubbub over %s: gaps', (transport) => {
  it('a skipped offset is never delivered silently: the client resubscribes and the server recovers it', async () => {
    const p = await peer();
    const c = collect(hub(p, only(transport)), 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    p.publish('chat:a', 1);
    await vi.waitFor(() => expect(c.data()).toEqual([1]));
    p.skipNext.add('chat:a');
    p.publish('chat:a', 2);
    p.publish('chat:a', 3);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2, 3]));
    expect(c.states).toContainEqual({ state: 'subscribing', reason: 'gap' });
    expect(c.subscribed().map((s) => s.recovered)).toEqual([false, true]);
    expect(p.log.at(-1)!.since).toEqual([{ epoch: p.channel('chat:a').epoch, offset: 1 }]);
    if (transport === 'websocket') expect(p.wsFrames.slice(-2).map((f) => f.type)).toEqual(['unsubscribe', 'subscribe']);
  });
});

/* ---------- Request-based transports rebuild the channel list and cursor ---------- */

describe.each(['sse', 'poll'] as const)('Hubbub over %s: requests', (transport) => {
  it('restarts with the new channel list and a cursor of the known positions', async () => {
    const p = await peer();
    const h = hub(p, only(transport));
    const a = collect(h, 'chat:a');
    await vi.waitFor(() => expect(a.subscribed()).toHaveLength(1));
    p.publish('chat:a', 1);
    await vi.waitFor(() => expect(a.data()).toEqual([1]));
    const b = collect(h, 'chat:b');
    await vi.waitFor(() => expect(b.subscribed()).toHaveLength(1));
    const e = (c: string) => p.channel(c).epoch;
    const added = p.log.find((l) => l.channels.length === 2)!;
    expect(added).toMatchObject({ channels: ['chat:a', 'chat:b'], since: [{ epoch: e('chat:a'), offset: 1 }, undefined] });
    a.sub.unsubscribe();
    p.publish('chat:b', 1);
    await vi.waitFor(() => expect(b.data()).toEqual([1]));
    const last = p.log.at(-1)!;
    expect(last.channels).toEqual(['chat:b']);
    expect(last.since).toEqual([{ epoch: e('chat:b'), offset: transport === 'poll' ? 1 : 0 }]);
    // The repeated subscription results of every poll response are not announced again.
    expect([a.subscribed().length, b.subscribed().length]).toEqual([1, 1]);
  });
});

describe('Hubbub over websocket: subscribe errors', () => {
  it('ends a subscription the server refuses, and retries one it failed with a retryable error', async () => {
    const p = await peer();
    p.refuseChannel.set('chat:no', { code: 'too_many_channels', retryable: false, times: 1 });
    p.refuseChannel.set('chat:later', { code: 'unavailable', retryable: true, times: 2 });
    const h = hub(p, only('websocket'));
    const no = collect(h, 'chat:no');
    const later = collect(h, 'chat:later');
    await vi.waitFor(() => expect(no.errors).toHaveLength(1));
    expect(no.errors[0]).toMatchObject({ name: 'HubbubError', code: 'too_many_channels', retryable: false });
    expect(no.sub.status).toBe('unsubscribed');
    await vi.waitFor(() => expect(later.subscribed()).toHaveLength(1));
    expect(later.errors).toEqual([]);
    // Still subscribing throughout: a retry is not a new state for the app.
    expect(later.states.map((s) => s.state)).toEqual(['subscribing', 'subscribed']);
    expect(p.wsFrames.filter((f) => f.channel === 'chat:later' && f.type === 'subscribe')).toHaveLength(3);
  });
});

/* ---------- Negotiation ---------- */

describe('transport negotiation', () => {
  async function connected(h: Hubbub): Promise<TransportName> {
    collect(h, 'chat:a');
    const [info] = await new Promise<[{ transport: TransportName }]>((resolve) => h.once('connected', (...a) => resolve(a)));
    return info.transport;
  }

  it('uses SSE when there is no WebSocket', async () => {
    const p = await peer();
    expect(await connected(hub(p, { WebSocket: null }))).toBe('sse');
    expect(p.attempts).toEqual(['sse']);
  });

  it('falls back to SSE when the WebSocket cannot open', async () => {
    const p = await peer();
    p.refuse.add('websocket');
    expect(await connected(hub(p))).toBe('sse');
    expect(p.attempts).toEqual(['websocket', 'sse']);
  });

  it('uses long-poll when neither WebSocket nor EventSource exists', async () => {
    const p = await peer();
    expect(await connected(hub(p, { WebSocket: null, EventSource: null }))).toBe('poll');
    expect(p.attempts).toEqual(['poll']);
  });

  it('falls back to long-poll when WebSocket and SSE both fail', async () => {
    const p = await peer();
    p.refuse.add('websocket');
    p.refuse.add('sse');
    expect(await connected(hub(p))).toBe('poll');
    expect(p.attempts).toEqual(['websocket', 'sse', 'poll']);
  });

  it('follows the configured order', async () => {
    const p = await peer();
    expect(await connected(hub(p, { transports: ['poll', 'websocket'] }))).toBe('poll');
  });

  it('retries the transport that worked before first', async () => {
    const p = await peer();
    p.refuse.add('websocket');
    const h = hub(p);
    const transports: TransportName[] = [];
    h.on('transport', (t) => transports.push(t));
    expect(await connected(h)).toBe('sse');
    const before = p.attempts.length;
    const again = new Promise((resolve) => h.once('connected', resolve));
    p.kick(4000);
    await again;
    expect(p.attempts.slice(before)).toEqual(['sse']);
    expect(transports).toEqual(['sse']);
  });

  it('closes with HubbubNoTransportError when the host has no usable API', async () => {
    const p = await peer();
    const h = hub(p, { WebSocket: null, EventSource: null, fetch: null });
    const [info] = await new Promise<[{ error?: Error }]>((resolve) => h.once('closed', (...a) => resolve(a)));
    expect(info.error).toBeInstanceOf(HubbubNoTransportError);
    expect(h.state).toBe('closed');
  });

  it('closes a WebSocket whose pings go unanswered (stale) and reconnects', async () => {
    const p = await peer();
    p.pingInterval = 5;
    p.answerPings = false;
    const h = hub(p, only('websocket'));
    const c = collect(h, 'chat:a');
    const [info] = await new Promise<[{ code: number }]>((resolve) => h.once('disconnected', (...a) => resolve(a)));
    expect(info.code).toBe(4002);
    p.answerPings = true;
    await vi.waitFor(() => expect(c.subscribed().length).toBeGreaterThanOrEqual(2));
    expect(p.wsFrames.some((f) => f.type === 'ping')).toBe(true);
  });
});

/* ---------- Backoff ---------- */

describe('reconnect backoff', () => {
  it('waits a full-jitter delay that doubles up to the cap, and starts over after a success', async () => {
    const dead = await peer();
    const port = Number(new URL(dead.url).port);
    await dead.close();
    const timers = new ManualTimers();
    const randoms = [0.5, 0.5, 0.5, 0.25, 0.999, 0.5];
    const h = new Hubbub(`http://127.0.0.1:${port}`, { transports: ['poll'], timers, random: () => randoms.shift()!, minReconnectDelay: 100, maxReconnectDelay: 1000 });
    cleanups.push(() => h.close());
    const delays: number[] = [];
    h.on('disconnected', (i) => delays.push(i.reconnectIn));
    const c = collect(h, 'chat:a');
    for (let n = 1; n <= 5; n++) {
      await vi.waitFor(() => expect(delays).toHaveLength(n));
      if (n < 5) timers.fire(delays[n - 1]!);
    }
    // Ceilings 100, 200, 400, 800, then capped at 1000; the delay is random * ceiling.
    expect(delays).toEqual([50, 100, 200, 200, 999]);
    const back = await peer(port);
    timers.fire(999);
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    back.kick(4000);
    await vi.waitFor(() => expect(delays).toHaveLength(6));
    expect(delays[5]).toBe(50);
  });
});
