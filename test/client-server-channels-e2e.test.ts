import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Hubbub, type HubbubEvents, type HubbubOptions, type Publication, type TransportName } from '../client/index.js';
import { collect } from './support/collect.js';
import { ManualTimers } from './support/manual-timers.js';
import { startServer, type TestServer } from './support/server.js';
import { serverSecret, signToken } from './support/tokens.js';

// Server-side channels end to end, on a real server in dev mode: the token's channels reach the app
// with no subscribe call, recover across a server restart, and never make SSE/poll send a cursor
// the server refuses; the server API's subscribe reaches a WebSocket client for one connection.

const NOTES = 'notifications:#ada';
/** vi.waitFor's 1 s default is short for a loaded two-core machine running real servers. */
const SLOW = { timeout: 5_000 };
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(): Promise<TestServer> {
  const srv = await startServer();
  cleanups.push(() => srv.close());
  return srv;
}

/**
 * A REST publish, as a backend makes it, on a connection of its own: a kept-alive one may be the
 * socket a restart just closed, and the POST would fail with "other side closed".
 */
async function publish(srv: TestServer, channel: string, data: unknown): Promise<{ epoch: string; offset: number }> {
  const res = await srv.api('/api/publish', { method: 'POST', body: JSON.stringify({ channel, data }), headers: { connection: 'close' } });
  expect(res.status).toBe(200);
  return (await res.json()) as { epoch: string; offset: number };
}

const tokenOf = (srv: TestServer, channels?: string[]) => signToken(serverSecret(srv.config), { sub: 'ada', ...(channels ? { channels } : {}) });

function client(srv: TestServer, transport: TransportName, options: HubbubOptions): Hubbub {
  const h = new Hubbub(srv.url, { WebSocket, transports: [transport], random: () => 0, pollTimeout: 5_000, ...options });
  cleanups.push(() => h.close());
  return h;
}

function publications(h: Hubbub): Publication[] {
  const seen: Publication[] = [];
  h.on('publication', (p) => seen.push(p));
  return seen;
}

const next = <K extends keyof HubbubEvents>(h: Hubbub, event: K) => new Promise<HubbubEvents[K]>((resolve) => h.once(event, (...args) => resolve(args)));

describe.each(['websocket', 'sse', 'poll'] as const)('server-side channels on a real server over %s', (transport) => {
  it("delivers the token's channels through hub.on('publication') with no subscribe call", async () => {
    const srv = await server();
    const h = client(srv, transport, { token: await tokenOf(srv, [NOTES]) });
    const pubs = publications(h);
    await vi.waitFor(() => expect(h.serverChannels).toEqual([NOTES]), SLOW);
    await publish(srv, NOTES, { text: 'hello' });
    await publish(srv, NOTES, { text: 'again' });
    await vi.waitFor(() => expect(pubs.map((p) => p.data)).toEqual([{ text: 'hello' }, { text: 'again' }]), SLOW);
    expect(pubs.map((p) => p.channel)).toEqual([NOTES, NOTES]);
  });

  it('recovers them across a server restart: every publication exactly once, in order', async () => {
    const srv = await server();
    // Manual timers: the reconnect waits until the test has published while the client is away.
    const timers = new ManualTimers();
    const h = client(srv, transport, { token: await tokenOf(srv, [NOTES]), timers, connectTimeout: 1e9 });
    const pubs = publications(h);
    const subscribed: boolean[] = [];
    h.on('subscribed', (r) => subscribed.push(r.recovered));
    await vi.waitFor(() => expect(h.serverChannels).toEqual([NOTES]), SLOW);
    for (const n of [1, 2]) await publish(srv, NOTES, n);
    await vi.waitFor(() => expect(pubs.map((p) => p.data)).toEqual([1, 2]), SLOW);
    // srv.restart() in two steps, so that even a long-poll (whose waiting request a stop answers
    // normally) finds the server gone: its next request is refused and the client is away.
    const down = next(h, 'disconnected');
    const port = srv.app.port;
    await srv.app.stop();
    const [info] = await down;
    await srv.app.listen(port, '127.0.0.1');
    for (const n of [3, 4, 5]) await publish(srv, NOTES, n);
    expect(h.state).toBe('disconnected');
    timers.fire(info.reconnectIn);
    await vi.waitFor(() => expect(pubs.map((p) => p.data)).toEqual([1, 2, 3, 4, 5]), SLOW);
    await publish(srv, NOTES, 6);
    await vi.waitFor(() => expect(pubs.map((p) => p.data)).toEqual([1, 2, 3, 4, 5, 6]), SLOW);
    expect(pubs.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(subscribed).toEqual([false, true]);
  });

  // Regression: SSE/poll sent a cursor with entries for the app's channels only; the server, which
  // adds the token's channels, refused it with 400 invalid_cursor and the client gave up.
  it('resumes an app channel from `since` with a token that lists channels, without invalid_cursor', async () => {
    const srv = await server();
    const first = await publish(srv, 'feed:a', 1);
    await publish(srv, 'feed:a', 2);
    const h = client(srv, transport, { token: await tokenOf(srv, [NOTES]) });
    const errors: Error[] = [];
    h.on('error', (e) => errors.push(e));
    const c = collect(h, 'feed:a', { epoch: first.epoch, offset: 1 });
    await vi.waitFor(() => expect(c.data()).toEqual([2]), SLOW);
    await publish(srv, NOTES, 'n');
    await vi.waitFor(() => expect(h.serverChannels).toEqual([NOTES]), SLOW);
    expect([errors, c.errors, h.state]).toEqual([[], [], 'connected']);
  });

  // Regression: over WebSocket the client subscribed a channel the server had subscribed for the
  // token already, and the server's already_subscribed ended the app's subscription.
  it('serves an app subscription to a channel the token lists, with no error', async () => {
    const srv = await server();
    const h = client(srv, transport, { token: await tokenOf(srv, [NOTES]) });
    const c = collect(h, NOTES);
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1), SLOW);
    await publish(srv, NOTES, 1);
    await vi.waitFor(() => expect(c.data()).toEqual([1]), SLOW);
    expect([c.errors, c.sub.status, h.serverChannels]).toEqual([[], 'subscribed', []]);
  });
});

describe('the server API subscribe on a real server (WebSocket)', () => {
  it("reaches the client through hub.on('publication'), and is gone after a reconnect", async () => {
    const srv = await server();
    const h = client(srv, 'websocket', { token: await tokenOf(srv) });
    const pubs = publications(h);
    const c = collect(h, 'feed:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1), SLOW);
    const res = await srv.api('/api/users/ada/subscribe', { method: 'POST', body: JSON.stringify({ channel: 'alerts:x' }) });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(h.serverChannels).toEqual(['alerts:x']), SLOW);
    await publish(srv, 'alerts:x', 'a1');
    await vi.waitFor(() => expect(pubs.map((p) => p.data)).toEqual(['a1']), SLOW);
    const back = new Promise((resolve) => h.once('disconnected', () => h.once('connected', resolve)));
    await srv.restart();
    await back;
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(2), SLOW);
    expect(h.serverChannels).toEqual([]);
    // Published after the reconnect: only the app's own channel still reaches the client.
    await publish(srv, 'alerts:x', 'a2');
    await publish(srv, 'feed:a', 'c1');
    await vi.waitFor(() => expect(c.data()).toEqual(['c1']), SLOW);
    expect(pubs.map((p) => p.data)).toEqual(['a1', 'c1']);
  });
});
