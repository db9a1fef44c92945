import { describe, expect, it, vi } from 'vitest';
import { PollResponse, parseCursor } from '../contract/index.js';
import { openSse } from './support/secured.js';
import { type TestServer, startServer } from './support/server.js';
import { serverSecret, signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

// The start of a connection: the WebSocket `connect` command and its timeout, and the channels a
// connection token lists, which the server subscribes on every transport without being asked.

/** vi.waitFor's 1 s default is short for a loaded two-core machine running real servers. */
const SLOW = { timeout: 5_000 };

const tokenFor = (srv: TestServer, claims: { sub: string; channels?: string[]; info?: unknown }) =>
  signToken(serverSecret(srv.config), claims, { expiresIn: 600 });

describe('WebSocket connect', () => {
  it('closes a WebSocket that sends nothing with 4005 after --connect-timeout; one that sent a command stays', async () => {
    await using srv = await startServer({ HUBBUB_CONNECT_TIMEOUT: '1' });
    const talker = await connectWs(srv.wsUrl);
    talker.send({ id: 1, type: 'ping' });
    await talker.next('pong');
    const silent = await connectWs(srv.wsUrl);
    expect(await silent.closeCode).toBe(4005);
    // The talker's timer was set first: had it not been cleared by its command, it would be closed by now.
    talker.send({ id: 2, type: 'ping' });
    expect(await talker.next('pong', (f) => f.id === 2)).toMatchObject({ id: 2 });
    await talker.close();
  });

  it('does not time out a WebSocket authenticated by its upgrade that only listens to its token channels', async () => {
    await using srv = await startServer({ HUBBUB_CONNECT_TIMEOUT: '1' });
    const token = await tokenFor(srv, { sub: 'ada', channels: ['notifications:#ada'] });
    const listener = await connectWs(`${srv.wsUrl}?token=${encodeURIComponent(token)}`);
    await listener.next('subscribed', (f) => f.channel === 'notifications:#ada');
    // An anonymous silent socket opened after it is closed first: the listener's time has passed too.
    const silent = await connectWs(srv.wsUrl);
    expect(await silent.closeCode).toBe(4005);
    await srv.publish('notifications:#ada', 'still here');
    expect(await listener.next('publication')).toMatchObject({ channel: 'notifications:#ada', data: 'still here' });
    await listener.close();
  });

  it('answers a connect that is not the first command with invalid_frame, and keeps the connection', async () => {
    await using srv = await startServer();
    const peer = await connectWs(srv.wsUrl);
    peer.send({ id: 1, type: 'ping' });
    peer.send({ id: 2, type: 'connect', token: await tokenFor(srv, { sub: 'ada' }) });
    expect(await peer.next('error')).toMatchObject({ id: 2, code: 'invalid_frame', message: expect.stringContaining('first command') });
    peer.send({ id: 3, type: 'ping' });
    await peer.next('pong', (f) => f.id === 3);
    await peer.close();
  });

  it('answers a connect with a valid token with connected (id, user, expires) and subscribes the token’s channels (id-less subscribed)', async () => {
    await using srv = await startServer();
    const token = await tokenFor(srv, { sub: 'ada', channels: ['feed:ada', 'news:all'] });
    const peer = await connectWs(srv.wsUrl);
    expect(peer.frames[0]).toMatchObject({ type: 'connected', user: null });
    const before = Date.now();
    peer.send({ id: 7, type: 'connect', token });
    const connected = await peer.next('connected', (f) => f.id === 7);
    expect(connected).toMatchObject({ id: 7, type: 'connected', user: 'ada', client: expect.any(String) });
    expect(connected.expires).toBeGreaterThan(before + 590_000);
    expect(connected.expires).toBeLessThanOrEqual(before + 601_000);
    for (const channel of ['feed:ada', 'news:all']) {
      expect(await peer.next('subscribed', (f) => f.channel === channel)).not.toHaveProperty('id');
    }
    await srv.publish('feed:ada', 'hello');
    expect(await peer.next('publication')).toMatchObject({ channel: 'feed:ada', data: 'hello' });
    await peer.close();
  });

  it('subscribes the channels of a token sent with the upgrade too', async () => {
    await using srv = await startServer();
    const token = await tokenFor(srv, { sub: 'ada', channels: ['feed:ada'] });
    const peer = await connectWs(srv.wsUrl, { headers: { authorization: `Bearer ${token}` } });
    expect(peer.frames[0]).toMatchObject({ type: 'connected', user: 'ada', expires: expect.any(Number) });
    expect(await peer.next('subscribed', (f) => f.channel === 'feed:ada')).not.toHaveProperty('id');
    await peer.close();
  });
});

describe('the token’s channels over SSE and long-poll', () => {
  it('SSE joins them after the listed channels, one cursor entry each, in that order (a channel in both counts once)', async () => {
    await using srv = await startServer();
    const token = await tokenFor(srv, { sub: 'ada', channels: ['tok:b', 'list:a', 'tok:c'] });
    const sse = await openSse(srv.url, 'channels=list:a,list:z', { authorization: `Bearer ${token}` });
    expect(sse.status).toBe(200);
    await vi.waitFor(() => expect(sse.events.filter((e) => e.event === 'subscribed')).toHaveLength(4), SLOW);
    const order = sse.events.filter((e) => e.event === 'subscribed').map((e) => (JSON.parse(e.data) as { channel: string }).channel);
    expect(order).toEqual(['list:a', 'list:z', 'tok:b', 'tok:c']);
    const { epoch } = await srv.publish('tok:c', 'to c');
    const pub = await sse.next('publication');
    const cursor = parseCursor(pub.id!, 4);
    expect(cursor?.[3]).toEqual({ epoch, offset: 1 });
    await sse.close();
  });

  it('poll joins them after the listed channels: subscriptions and cursor in that order, and the cursor carries on', async () => {
    await using srv = await startServer();
    const token = await tokenFor(srv, { sub: 'ada', channels: ['tok:b', 'tok:c'] });
    const poll = async (cursor?: string) => {
      const res = await fetch(`${srv.url}/poll?channels=list:a${cursor ? `&cursor=${cursor}` : ''}&token=${token}`);
      expect(res.status).toBe(200);
      return PollResponse.parse(await res.json());
    };
    const first = await poll();
    expect(first.subscriptions.map((s) => s.channel)).toEqual(['list:a', 'tok:b', 'tok:c']);
    expect(parseCursor(first.cursor, 3)).toHaveLength(3);
    const waiting = poll(first.cursor);
    await vi.waitFor(() => expect(srv.app.registries().transports.poll).toBe(1), SLOW);
    const { epoch } = await srv.publish('tok:b', 'to b');
    const next = await waiting;
    expect(next.publications).toMatchObject([{ channel: 'tok:b', data: 'to b' }]);
    expect(parseCursor(next.cursor, 3)?.[1]).toEqual({ epoch, offset: 1 });
  });

  it('needs no channels parameter when the token lists channels', async () => {
    await using srv = await startServer();
    const token = await tokenFor(srv, { sub: 'ada', channels: ['tok:only'] });
    const res = await fetch(`${srv.url}/poll?token=${token}`);
    expect(res.status).toBe(200);
    expect(PollResponse.parse(await res.json()).subscriptions.map((s) => s.channel)).toEqual(['tok:only']);
    const sse = await openSse(srv.url, '', { authorization: `Bearer ${token}` });
    expect(JSON.parse((await sse.next('subscribed')).data)).toMatchObject({ channel: 'tok:only' });
    await sse.close();
  });
});

describe('a token listing more channels than a connection may hold', () => {
  it('is refused on WebSocket connect with too_many_channels, as SSE and poll refuse it', async () => {
    await using srv = await startServer({ HUBBUB_MAX_CHANNELS: '2' });
    const token = await tokenFor(srv, { sub: 'ada', channels: ['a:1', 'a:2', 'a:3'] });
    const peer = await connectWs(srv.wsUrl);
    peer.send({ id: 1, type: 'connect', token });
    expect(await peer.next('error', (f) => f.id === 1)).toMatchObject({ code: 'too_many_channels' });
    expect(peer.frames.filter((f) => f.type === 'subscribed')).toEqual([]);
    await peer.close();
    const poll = await fetch(`${srv.url}/poll`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await poll.json()) as { code: string }).code).toBe('too_many_channels');
  });
});
