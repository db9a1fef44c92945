import { describe, expect, it, vi } from 'vitest';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { Hubbub, HubbubDisconnectError, type TransportName } from '../client/index.js';
import { collect } from './support/collect.js';
import { errorOf, openSse, upgrade } from './support/secured.js';
import { type TestServer, startServer } from './support/server.js';
import { serverSecret, signToken } from './support/tokens.js';
import { type RawWs, connectWs } from './support/ws-client.js';

// The server API's user commands on one node: POST /api/users/:user/{subscribe,unsubscribe,disconnect}
// act on the user's live connections. WebSockets follow subscribe/unsubscribe; an SSE stream's
// channels are fixed by its request (its cursor lists them), so it is not reached; disconnect ends
// every connection of the user for good.

/** vi.waitFor's 1 s default is short for a loaded two-core machine running real servers. */
const SLOW = { timeout: 5_000 };

async function userCommand(srv: TestServer, user: string, command: string, body?: unknown) {
  const res = await srv.api(`/api/users/${user}/${command}`, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { user: string; connections: number };
}

const tokenOf = (srv: TestServer, sub: string) => signToken(serverSecret(srv.config), { sub }, { expiresIn: 600 });

/** A WebSocket of `user`, identified with the upgrade (header) or with a connect frame. */
async function wsOf(srv: TestServer, token: string, how: 'header' | 'connect'): Promise<RawWs> {
  if (how === 'header') return connectWs(srv.wsUrl, { headers: { authorization: `Bearer ${token}` } });
  const peer = await connectWs(srv.wsUrl);
  peer.send({ id: 1, type: 'connect', token });
  await peer.next('connected', (f) => f.id === 1);
  return peer;
}

/** Subscribes with a command and waits for its reply. */
async function subscribe(peer: RawWs, id: number, channel: string): Promise<void> {
  peer.send({ id, type: 'subscribe', channel });
  await peer.next('subscribed', (f) => f.id === id);
}

const dataOf = (peer: RawWs, channel: string) => peer.frames.flatMap((f) => (f.type === 'publication' && f.channel === channel ? [f.data] : []));

describe('POST /api/users/:user/subscribe and unsubscribe', () => {
  it('subscribe joins the user’s live WebSockets (id-less subscribed, then publications); unsubscribe leaves them (id-less unsubscribed)', async () => {
    await using srv = await startServer();
    const ada = await tokenOf(srv, 'ada');
    const one = await wsOf(srv, ada, 'header');
    const two = await wsOf(srv, ada, 'connect');
    const bob = await wsOf(srv, await tokenOf(srv, 'bob'), 'header');
    for (const peer of [one, two, bob]) await subscribe(peer, 5, 'own:marker');

    expect(await userCommand(srv, 'ada', 'subscribe', { channel: 'news:1' })).toEqual({ user: 'ada', connections: 2 });
    for (const peer of [one, two]) {
      const frame = await peer.next('subscribed', (f) => f.channel === 'news:1');
      expect(frame).not.toHaveProperty('id');
    }
    await srv.publish('news:1', 'first');
    await srv.publish('own:marker', 'after first');
    for (const peer of [one, two, bob]) await vi.waitFor(() => expect(dataOf(peer, 'own:marker')).toEqual(['after first']), SLOW);
    expect(dataOf(one, 'news:1')).toEqual(['first']);
    expect(dataOf(two, 'news:1')).toEqual(['first']);
    expect(dataOf(bob, 'news:1')).toEqual([]);
    expect(bob.frames.some((f) => f.type === 'subscribed' && f.channel === 'news:1')).toBe(false);

    // Once more: nothing new to join.
    expect(await userCommand(srv, 'ada', 'subscribe', { channel: 'news:1' })).toEqual({ user: 'ada', connections: 0 });

    expect(await userCommand(srv, 'ada', 'unsubscribe', { channel: 'news:1' })).toEqual({ user: 'ada', connections: 2 });
    for (const peer of [one, two]) expect(await peer.next('unsubscribed', (f) => f.channel === 'news:1')).not.toHaveProperty('id');
    await srv.publish('news:1', 'second');
    await srv.publish('own:marker', 'after second');
    for (const peer of [one, two]) await vi.waitFor(() => expect(dataOf(peer, 'own:marker')).toEqual(['after first', 'after second']), SLOW);
    expect(dataOf(one, 'news:1')).toEqual(['first']);
    expect(dataOf(two, 'news:1')).toEqual(['first']);
    // The client may subscribe again on its own, with its own id.
    await subscribe(one, 6, 'news:1');
    for (const peer of [one, two, bob]) await peer.close();
  });

  it('does not change an SSE stream, and does not count it as reached', async () => {
    await using srv = await startServer();
    const ada = await tokenOf(srv, 'ada');
    const sse = await openSse(srv.url, 'channels=own:sse', { authorization: `Bearer ${ada}` });
    await sse.next('subscribed');
    expect(await userCommand(srv, 'ada', 'subscribe', { channel: 'news:2' })).toEqual({ user: 'ada', connections: 0 });
    await srv.publish('news:2', 'not for the stream');
    await srv.publish('own:sse', 'marker');
    await sse.next('publication');
    expect(sse.events.filter((e) => e.event === 'publication').map((e) => JSON.parse(e.data).channel)).toEqual(['own:sse']);
    expect(sse.events.filter((e) => e.event === 'subscribed')).toHaveLength(1);
    expect(await userCommand(srv, 'ada', 'unsubscribe', { channel: 'own:sse' })).toEqual({ user: 'ada', connections: 0 });
    await srv.publish('own:sse', 'still here');
    await vi.waitFor(() => expect(sse.events.filter((e) => e.event === 'publication')).toHaveLength(2), SLOW);
    await sse.close();
  });
});

describe('POST /api/users/:user/disconnect', () => {
  it('closes every connection of the user with 4500 (SSE: the disconnect event), answers a waiting poll, and leaves others alone', async () => {
    await using srv = await startServer();
    const ada = await tokenOf(srv, 'ada');
    const ws = await wsOf(srv, ada, 'header');
    const viaConnect = await wsOf(srv, ada, 'connect');
    const bob = await wsOf(srv, await tokenOf(srv, 'bob'), 'header');
    const sse = await openSse(srv.url, 'channels=own:d', { authorization: `Bearer ${ada}` });
    await sse.next('subscribed');
    const { epoch, offset } = await srv.publish('own:p', 'x');
    const poll = fetch(`${srv.url}/poll?channels=own:p&cursor=${epoch}:${offset}`, { headers: { authorization: `Bearer ${ada}` } });
    await vi.waitFor(() => expect(srv.app.registries().transports.poll).toBe(1), SLOW);

    expect(await userCommand(srv, 'ada', 'disconnect')).toEqual({ user: 'ada', connections: 4 });
    expect(await ws.closeCode).toBe(4500);
    expect(await viaConnect.closeCode).toBe(4500);
    const ev = await sse.next('disconnect');
    expect(JSON.parse(ev.data)).toMatchObject({ code: 4500, name: 'disconnected_by_server', reconnect: false });
    await sse.ended;
    expect((await poll).status).toBe(200);
    bob.send({ id: 9, type: 'ping' });
    expect(await bob.next('pong')).toMatchObject({ id: 9 });

    // The token the client holds was revoked with the disconnect: it cannot simply come back.
    const again = await openSse(srv.url, 'channels=own:d', { authorization: `Bearer ${ada}` });
    expect([again.status, errorOf(again.body).code]).toEqual([401, 'token_invalid']);
    await bob.close();
  });

  it('refuses the tokens the user’s connections held, even with an iat not before the disconnect (a backend clock ahead); a new token passes', async () => {
    await using srv = await startServer();
    const key = new TextEncoder().encode(serverSecret(srv.config));
    const ahead = Math.floor(Date.now() / 1000) + 3;
    const held = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ada').setIssuedAt(ahead).setExpirationTime(ahead + 600).sign(key);
    const ws = await wsOf(srv, held, 'connect');
    const sse = await openSse(srv.url, 'channels=own:r', { authorization: `Bearer ${held}` });
    await sse.next('subscribed');
    expect(await userCommand(srv, 'ada', 'disconnect')).toEqual({ user: 'ada', connections: 2 });
    expect(await ws.closeCode).toBe(4500);

    const back = await upgrade(srv.url, { authorization: `Bearer ${held}` });
    back.socket?.destroy();
    expect(back.status).toBe(401);
    expect(errorOf(back.body).code).toBe('token_invalid');
    const poll = await fetch(`${srv.url}/poll?channels=own:r`, { headers: { authorization: `Bearer ${held}` } });
    expect(poll.status).toBe(401);
    const frame = await connectWs(srv.wsUrl);
    frame.send({ id: 1, type: 'connect', token: held });
    expect(await frame.next('error')).toMatchObject({ id: 1, code: 'token_invalid' });
    await frame.close();

    const fresh = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ada').setIssuedAt(ahead).setExpirationTime(ahead + 601).sign(key);
    const ok = await upgrade(srv.url, { authorization: `Bearer ${fresh}` });
    expect(ok.status).toBe(101);
    ok.socket!.destroy();
  });

  it.each(['websocket', 'sse', 'poll'] as TransportName[])('the client over %s stops for good: closed, no reconnect', async (transport) => {
    await using srv = await startServer();
    const token = await tokenOf(srv, 'ada');
    const h = new Hubbub(srv.url, { WebSocket, transports: [transport], token, random: () => 0, pollTimeout: 5_000 });
    const c = collect(h, 'own:client');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1), SLOW);
    const closed = new Promise<{ error?: Error }>((resolve) => h.once('closed', resolve));
    await userCommand(srv, 'ada', 'disconnect');
    const { error } = await closed;
    expect(h.state).toBe('closed');
    if (transport === 'poll') {
      // A poll has no close code: the next poll meets the revoked token, which is just as final.
      expect(error).toMatchObject({ code: 'token_invalid' });
    } else {
      expect(error).toBeInstanceOf(HubbubDisconnectError);
      expect(error).toMatchObject({ code: 4500 });
    }
    await vi.waitFor(() => expect(srv.app.registries().transports[transport]).toBe(0), SLOW);
    h.close();
  });
});
