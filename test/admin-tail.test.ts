// The admin dashboard's live tail token (docs/admin.md): on a locked-down server (subscribing
// needs a token that lists the channel), a signed-in admin's tail token watches its one channel
// over every transport, on any node of a cluster, and is refused for everything else: another
// channel, publishing, the REST API, a forged or tampered token, a node with the dashboard off,
// and after a reload that changes the admin password. The tail never shows in presence.
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Hubbub, type TransportName } from '../client/index.js';
import { AdminSession, AdminTailToken, ErrorBody, PresenceResponse } from '../contract/index.js';
import { TAIL_KID } from '../server/auth/admin-tail.js';
import { collect } from './support/collect.js';
import { type ConfiguredServer, startConfigured } from './support/configured-server.js';
import { startCluster } from './support/cluster.js';
import { signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

const PASSWORD = 'correct horse battery staple';
const ADMIN_KEY = 'admin-scoped-key-0123456789';
const LOCKED = [
  'defaults: { subscribe: token, publish: subscribers, joinLeave: true }',
  'namespaces:',
  '  open: { subscribe: anyone }',
  'apiKeys:',
  `  - { name: ops, key: ${ADMIN_KEY}, operations: [admin] }`,
  '',
].join('\n');
/** vi.waitFor's 1 s default is short for a loaded machine running real servers. */
const SLOW = { timeout: 10_000, interval: 50 };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function locked(env: Record<string, string> = { HUBBUB_ADMIN_PASSWORD: PASSWORD }): Promise<ConfiguredServer> {
  const srv = await startConfigured('memory', LOCKED, env);
  cleanups.push(() => srv.close());
  return srv;
}

interface Admin {
  cookie: string;
  csrf: string;
}

async function signIn(url: string, secret = PASSWORD): Promise<Admin> {
  const res = await fetch(`${url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ secret }) });
  expect(res.status).toBe(200);
  return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: AdminSession.parse(await res.json()).csrf };
}

function askTailToken(url: string, admin: Admin, channel: string): Promise<Response> {
  return fetch(`${url}/admin/api/tail-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: admin.cookie, 'x-csrf-token': admin.csrf },
    body: JSON.stringify({ channel }),
  });
}

async function tailToken(url: string, admin: Admin, channel: string): Promise<string> {
  const res = await askTailToken(url, admin, channel);
  expect(res.status).toBe(200);
  return AdminTailToken.parse(await res.json()).token;
}

/** The error code of a refused response, with its status. */
async function refusal(res: Response): Promise<[number, string]> {
  return [res.status, ErrorBody.parse(await res.json()).code];
}

const poll = (url: string, channels: string, token?: string) =>
  fetch(`${url}/poll?channels=${encodeURIComponent(channels)}&timeout=0`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
const sse = (url: string, channels: string, token: string) => fetch(`${url}/sse?channels=${encodeURIComponent(channels)}&token=${token}`);

/** The dashboard's way: our client, its getToken asking the admin API for a tail token. */
function tailClient(url: string, admin: Admin, channel: string, transport: TransportName): Hubbub {
  const h = new Hubbub(url, { WebSocket, transports: [transport], random: () => 0, pollTimeout: 5_000, getToken: () => tailToken(url, admin, channel) });
  cleanups.push(() => h.close());
  return h;
}

describe('admin tail token', () => {
  it('is needed: on the locked server an anonymous client and an ordinary user are refused the channel', async () => {
    const srv = await locked();
    expect(await refusal(await poll(srv.url, 'orders:1'))).toEqual([403, 'forbidden']);
    expect(await refusal(await poll(srv.url, 'orders:1', await signToken(srv.secret, { sub: 'ada' })))).toEqual([403, 'forbidden']);
    // An app token naming an admin as its user is an ordinary user: the admin mark comes only from the admin key.
    expect(await refusal(await poll(srv.url, 'orders:1', await signToken(srv.secret, { sub: 'admin:password' })))).toEqual([403, 'forbidden']);
  });

  describe.each(['websocket', 'sse', 'poll'] as const)('over %s', (transport) => {
    it('watches a token-only channel and a private user channel, and receives their publications', async () => {
      const srv = await locked();
      const admin = await signIn(srv.url);
      for (const channel of ['orders:1', 'notifications:#ada']) {
        const c = collect(tailClient(srv.url, admin, channel, transport), channel);
        await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1), SLOW);
        await srv.publish(channel, { n: 1 });
        await vi.waitFor(() => expect(c.data()).toEqual([{ n: 1 }]), SLOW);
        expect(c.errors).toEqual([]);
      }
    });
  });

  it('is refreshed on an open WebSocket by a new one (what getToken does ahead of expiry), never by an app token', async () => {
    const srv = await locked();
    const admin = await signIn(srv.url);
    const ws = await connectWs(`${srv.url.replace('http', 'ws')}/ws?token=${await tailToken(srv.url, admin, 'orders:1')}`);
    cleanups.push(() => ws.close());
    await ws.next('subscribed', (f) => f.channel === 'orders:1');
    ws.send({ id: 1, type: 'refresh', token: await tailToken(srv.url, admin, 'orders:1') });
    expect(await ws.next('refreshed', (f) => f.id === 1)).toMatchObject({ expires: expect.any(Number) });
    ws.send({ id: 2, type: 'refresh', token: await signToken(srv.secret, { sub: 'ada' }) });
    expect(await ws.next('error', (f) => f.id === 2)).toMatchObject({ code: 'forbidden' });
    await srv.publish('orders:1', 'still watching');
    expect(await ws.next('publication')).toMatchObject({ data: 'still watching' });
  });

  it('is refused for another channel on every transport', async () => {
    const srv = await locked();
    const token = await tailToken(srv.url, await signIn(srv.url), 'orders:1');
    expect((await poll(srv.url, 'orders:1', token)).status).toBe(200);
    expect(await refusal(await poll(srv.url, 'orders:2', token))).toEqual([403, 'forbidden']);
    expect(await refusal(await poll(srv.url, 'orders:1,notifications:#ada', token))).toEqual([403, 'forbidden']);
    // Anyone may read open:x, but a tail token watches its own channel only.
    expect((await poll(srv.url, 'open:x')).status).toBe(200);
    expect(await refusal(await poll(srv.url, 'open:x', token))).toEqual([403, 'forbidden']);
    expect(await refusal(await sse(srv.url, 'orders:2', token))).toEqual([403, 'forbidden']);
    const ws = await connectWs(`${srv.url.replace('http', 'ws')}/ws?token=${token}`);
    cleanups.push(() => ws.close());
    await ws.next('subscribed', (f) => f.channel === 'orders:1');
    ws.send({ id: 1, type: 'subscribe', channel: 'orders:2' });
    expect(await ws.next('error', (f) => f.id === 1)).toMatchObject({ code: 'forbidden' });
  });

  it('cannot publish, even where subscribers may', async () => {
    const srv = await locked();
    const token = await tailToken(srv.url, await signIn(srv.url), 'orders:1');
    const ws = await connectWs(`${srv.url.replace('http', 'ws')}/ws?token=${token}`);
    cleanups.push(() => ws.close());
    await ws.next('subscribed', (f) => f.channel === 'orders:1');
    ws.send({ id: 1, type: 'publish', channel: 'orders:1', data: { forged: true } });
    expect(await ws.next('error', (f) => f.id === 1)).toMatchObject({ code: 'forbidden' });
    const http = await fetch(`${srv.url}/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'orders:1', data: { forged: true } }),
    });
    expect(await refusal(http)).toEqual([403, 'forbidden']);
    const history = await (await srv.api('/api/channels/orders:1/history')).json();
    expect(history).toMatchObject({ publications: [] });
  });

  it('is no key for the REST API', async () => {
    const srv = await locked();
    const token = await tailToken(srv.url, await signIn(srv.url), 'orders:1');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const publish = await fetch(`${srv.url}/api/publish`, { method: 'POST', headers, body: JSON.stringify({ channel: 'orders:1', data: 1 }) });
    expect(await refusal(publish)).toEqual([401, 'unauthorized']);
    expect(await refusal(await fetch(`${srv.url}/api/channels/orders:1/presence`, { headers }))).toEqual([401, 'unauthorized']);
    expect(await refusal(await fetch(`${srv.url}/admin/api/nodes`, { headers }))).toEqual([401, 'admin_session_required']);
  });

  it('is refused with a tampered signature or claims, or forged with the app key', async () => {
    const srv = await locked();
    const token = await tailToken(srv.url, await signIn(srv.url), 'orders:1');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(await refusal(await poll(srv.url, 'orders:1', flipped))).toEqual([401, 'token_invalid']);
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const retargeted = Buffer.from(JSON.stringify({ ...claims, channels: ['orders:2'] })).toString('base64url');
    expect(await refusal(await poll(srv.url, 'orders:2', `${header}.${retargeted}.${signature}`))).toEqual([401, 'token_invalid']);
    // The app's backend cannot mint one: its key is not the admin key.
    const forged = await signToken(srv.secret, { ...claims, sub: 'admin:password' }, {});
    const withKid = `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: TAIL_KID })).toString('base64url')}.${forged.split('.')[1]}.${forged.split('.')[2]}`;
    expect(await refusal(await poll(srv.url, 'orders:1', withKid))).toEqual([401, 'token_invalid']);
  });

  it('is not listed in presence and causes no join or leave event', async () => {
    const srv = await locked();
    const token = await tailToken(srv.url, await signIn(srv.url), 'orders:1');
    const tail = await connectWs(`${srv.url.replace('http', 'ws')}/ws?token=${token}`);
    cleanups.push(() => tail.close());
    await tail.next('subscribed', (f) => f.channel === 'orders:1');
    const ada = await connectWs(`${srv.url.replace('http', 'ws')}/ws?token=${await signToken(srv.secret, { sub: 'ada', channels: ['orders:1'] })}`);
    cleanups.push(() => ada.close());
    await ada.next('subscribed', (f) => f.channel === 'orders:1');
    // Ada's join reaches the tail (it watches like any subscriber); the tail's own join never happened.
    await tail.next('publication', (f) => (f.data as { user?: string }).user === 'ada');
    const presence = PresenceResponse.parse(await (await srv.api('/api/channels/orders:1/presence')).json());
    expect(presence.clients.map((c) => c.user)).toEqual(['ada']);
    const history = (await (await srv.api('/api/channels/orders:1/history')).json()) as { publications: Array<{ data: { user?: string } }> };
    expect(history.publications.map((p) => p.data.user)).toEqual(['ada']);
  });

  it('is refused by a node with the dashboard off, and after a reload turns it off or changes the password (not after other reloads)', async () => {
    const srv = await locked();
    const admin = await signIn(srv.url);
    const token = await tailToken(srv.url, admin, 'orders:1');
    const off = await startConfigured('memory', LOCKED.replace(/apiKeys:[\s\S]*/, ''), { HUBBUB_TOKEN_SECRET: srv.secret });
    cleanups.push(() => off.close());
    expect(await refusal(await poll(off.url, 'orders:1', token))).toEqual([401, 'token_invalid']);

    // A reload of other settings keeps the admin keys: the session and the token go on working.
    expect(srv.app.reload({ ...srv.app.config, limitCommands: 77 }).applied).toEqual(['--limit-commands']);
    expect((await poll(srv.url, 'orders:1', token)).status).toBe(200);
    expect((await askTailToken(srv.url, admin, 'orders:1')).status).toBe(200);

    expect(srv.app.reload({ ...srv.app.config, adminPassword: 'a new and different admin password' }).applied).toEqual(['--admin-password']);
    expect(await refusal(await poll(srv.url, 'orders:1', token))).toEqual([401, 'token_invalid']);
    expect(await refusal(await askTailToken(srv.url, admin, 'orders:1'))).toEqual([401, 'admin_session_required']);
    const renewed = await tailToken(srv.url, await signIn(srv.url, 'a new and different admin password'), 'orders:1');
    expect((await poll(srv.url, 'orders:1', renewed)).status).toBe(200);

    srv.app.reload({ ...srv.app.config, adminPassword: undefined, apiKeys: [] });
    expect(await refusal(await poll(srv.url, 'orders:1', renewed))).toEqual([401, 'token_invalid']);
    expect(await refusal(await askTailToken(srv.url, admin, 'orders:1'))).toEqual([404, 'not_found']);
  });

  it('an admin key removed by a reload no longer signs in (the dashboard kept the start-up keys)', async () => {
    const srv = await locked();
    await signIn(srv.url, ADMIN_KEY);
    srv.app.reload({ ...srv.app.config, apiKeys: [] });
    const res = await fetch(`${srv.url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ secret: ADMIN_KEY }) });
    expect(await refusal(res)).toEqual([401, 'admin_login_failed']);
  });

  it('minted on one node subscribes on another (a real nats-server, no sticky sessions)', async () => {
    const cluster = await startCluster(2, { HUBBUB_ADMIN_PASSWORD: PASSWORD, HUBBUB_TOKEN_SECRET: 'cluster-token-secret-0123456789abcdefgh' });
    cleanups.push(() => cluster.close());
    const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    const token = await tailToken(a.url, await signIn(a.url), 'notifications:#ada');
    const ws = await connectWs(`${b.url.replace('http', 'ws')}/ws?token=${token}`);
    cleanups.push(() => ws.close());
    await ws.next('subscribed', (f) => f.channel === 'notifications:#ada');
    await a.publish('notifications:#ada', { from: 'a' });
    expect(await ws.next('publication')).toMatchObject({ channel: 'notifications:#ada', data: { from: 'a' } });
  });
});
