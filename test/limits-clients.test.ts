import { describe, expect, it, vi } from 'vitest';
import type { ServerFrame } from '../contract/index.js';
import { TEST_API_KEY, startServer } from './support/server.js';
import { TOKEN_SECRET, errorOf, openSse, startWithConfig, upgrade } from './support/secured.js';
import { signToken } from './support/tokens.js';
import { type RawWs, connectWs } from './support/ws-client.js';

// Limits on what a client does once connected (commands per WebSocket, publishes per user) and on
// how often an address may present wrong credentials.

/** vi.waitFor's 1 s default is short for a loaded two-core machine running real servers. */
const SLOW = { timeout: 5_000 };

type ErrorFrame = Extract<ServerFrame, { type: 'error' }>;
const errors = (frames: ServerFrame[]) => frames.filter((f): f is ErrorFrame => f.type === 'error');

/** Resolves once `count` commands have their reply, or the socket closed. */
function repliedOrClosed(peer: RawWs, count: number): Promise<void> {
  const replies = () => peer.frames.filter((f) => f.type === 'pong' || f.type === 'error').length;
  return new Promise((resolve) => {
    const check = () => {
      if (peer.ws.readyState !== peer.ws.OPEN || replies() >= count) {
        peer.ws.off('message', check).off('close', check);
        resolve();
      }
    };
    peer.ws.on('message', check).on('close', check);
    check();
  });
}

describe('WebSocket commands per second (--limit-commands)', () => {
  it('answers commands past the bucket with rate_limited and their id; after more than 50 refusals in a row it closes with 4006', async () => {
    await using srv = await startServer({ HUBBUB_LIMIT_COMMANDS: '1' });
    const peer = await connectWs(srv.wsUrl);
    const burst = 2;
    let id = 0;
    const started = Date.now();
    for (let i = 0; i < burst + 10; i++) peer.send({ id: ++id, type: 'ping' });
    await vi.waitFor(() => expect(peer.frames.filter((f) => f.type === 'pong' || f.type === 'error')).toHaveLength(id), SLOW);
    const elapsed = (Date.now() - started) / 1000;
    const pongs = peer.frames.filter((f) => f.type === 'pong').length;
    expect(pongs).toBeGreaterThanOrEqual(burst);
    expect(pongs).toBeLessThanOrEqual(burst + Math.floor(elapsed));
    const limited = errors(peer.frames);
    expect(limited.length).toBe(id - pongs);
    expect(limited.every((e) => e.code === 'rate_limited')).toBe(true);
    // Each refusal carries the id of the command it refuses, and every command got one reply.
    const replied = peer.frames.flatMap((f) => ('id' in f && f.id !== undefined ? [f.id] : []));
    expect(replied.sort((a, b) => a - b)).toEqual(Array.from({ length: id }, (_, i) => i + 1));

    // A client that keeps going: the 51st refusal in a row closes the connection.
    let closeCode = 0;
    void peer.closeCode.then((c) => (closeCode = c));
    while (closeCode === 0) {
      for (let i = 0; i < 20; i++) peer.send({ id: ++id, type: 'ping' });
      await repliedOrClosed(peer, id);
      await Promise.resolve();
    }
    expect(closeCode).toBe(4006);
    // Refusals are answered at once, ahead of replies still queued, so "in a row" is by command id:
    // every command after the last one accepted was refused, 50 with a reply, the 51st by the close.
    const lastAccepted = Math.max(...peer.frames.flatMap((f) => (f.type === 'pong' ? [f.id] : [])));
    const refusedAfter = errors(peer.frames).filter((e) => e.id! > lastAccepted);
    expect(refusedAfter).toHaveLength(50);
    expect(refusedAfter.every((e) => e.code === 'rate_limited')).toBe(true);
    expect(id - lastAccepted).toBeGreaterThan(50);
  });
});

const PUBLISH_CONFIG = `
namespaces:
  chat:
    subscribe: authenticated
    publish: authenticated
`;

describe('client publishes per user per second (--limit-publishes)', () => {
  it('refuses with rate_limited past the bucket, shared by the user’s WebSockets and POST /publish on the node', async () => {
    await using srv = await startWithConfig(PUBLISH_CONFIG, { HUBBUB_LIMIT_PUBLISHES: '1' });
    const burst = 2;
    const ada = await signToken(TOKEN_SECRET, { sub: 'ada' }, { expiresIn: 600 });
    const bob = await signToken(TOKEN_SECRET, { sub: 'bob' }, { expiresIn: 600 });
    const one = await connectWs(srv.wsUrl, { headers: { authorization: `Bearer ${ada}` } });
    const two = await connectWs(srv.wsUrl, { headers: { authorization: `Bearer ${ada}` } });
    const httpPublish = (token: string) =>
      fetch(`${srv.url}/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'chat:room', data: 'hi' }),
      });

    // Six attempts at each of three doors, all at once: the user has one bucket for all of them.
    const attempts = 6;
    const started = Date.now();
    const replies = (peer: RawWs) =>
      Promise.all(
        Array.from({ length: attempts }, (_, i) => {
          peer.send({ id: i + 1, type: 'publish', channel: 'chat:room', data: i });
          return Promise.race([peer.next('published', (f) => f.id === i + 1), peer.next('error', (f) => f.id === i + 1)]);
        }),
      );
    const [ws1, ws2, http] = await Promise.all([replies(one), replies(two), Promise.all(Array.from({ length: attempts }, () => httpPublish(ada)))]);
    const elapsed = (Date.now() - started) / 1000;
    const accepted = [...ws1, ...ws2].filter((f) => f.type === 'published').length + http.filter((r) => r.status === 200).length;
    expect(accepted).toBeGreaterThanOrEqual(burst);
    expect(accepted).toBeLessThanOrEqual(burst + Math.floor(elapsed));
    // Every door refused some, with the contract's error (and the command id on WebSocket).
    for (const frames of [ws1, ws2]) {
      const refused = frames.filter((f) => f.type === 'error');
      expect(refused.length).toBeGreaterThan(0);
      for (const f of refused) expect(f).toMatchObject({ type: 'error', id: expect.any(Number), code: 'rate_limited' });
    }
    const refusedHttp = http.filter((r) => r.status !== 200);
    expect(refusedHttp.length).toBeGreaterThan(0);
    for (const r of refusedHttp) {
      expect(r.status).toBe(429);
      expect(errorOf(await r.text()).code).toBe('rate_limited');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // Another user has their own bucket.
    expect((await httpPublish(bob)).status).toBe(200);
    await one.close();
    await two.close();
  });
});

describe('failed API keys and tokens per address (--limit-auth-failures)', () => {
  const from = (address: string, headers: Record<string, string> = {}) => ({ 'x-forwarded-for': address, ...headers });

  async function setup() {
    const srv = await startWithConfig('{}', { HUBBUB_LIMIT_AUTH_FAILURES: '3', HUBBUB_TRUSTED_PROXIES: '127.0.0.1' });
    const api = (address: string, key: string) => fetch(`${srv.url}/api/info`, { headers: from(address, { authorization: `Bearer ${key}` }) });
    const good = await signToken(TOKEN_SECRET, { sub: 'ada' }, { expiresIn: 600 });
    const bad = await signToken('a-different-secret-of-at-least-32-chars!!', { sub: 'ada' }, { expiresIn: 600 });
    return { srv, api, good, bad };
  }

  it('after N wrong API keys even the right key from that address gets 429; another address is unaffected', async () => {
    const { srv, api, good } = await setup();
    await using _ = srv;
    for (let i = 0; i < 3; i++) expect((await api('198.51.100.1', 'not-the-key-0123456789')).status).toBe(401);
    const refused = await api('198.51.100.1', TEST_API_KEY);
    expect(refused.status).toBe(429);
    expect(errorOf(await refused.text()).code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Tokens from there are refused too, before they are checked.
    expect((await openSse(srv.url, 'channels=news', from('198.51.100.1', { authorization: `Bearer ${good}` }))).status).toBe(429);
    expect((await api('198.51.100.2', TEST_API_KEY)).status).toBe(200);
  });

  it('after N bad connection tokens (SSE, poll, upgrade) the address is refused, API key included', async () => {
    const { srv, api, good, bad } = await setup();
    await using _ = srv;
    const auth = (t: string) => from('198.51.100.3', { authorization: `Bearer ${t}` });
    expect((await openSse(srv.url, 'channels=news', auth(bad))).status).toBe(401);
    expect((await fetch(`${srv.url}/poll?channels=news`, { headers: auth(bad) })).status).toBe(401);
    expect((await upgrade(srv.url, auth(bad))).status).toBe(401);
    expect((await upgrade(srv.url, auth(good))).status).toBe(429);
    expect((await api('198.51.100.3', TEST_API_KEY)).status).toBe(429);
    const elsewhere = await upgrade(srv.url, from('198.51.100.4', { authorization: `Bearer ${good}` }));
    expect(elsewhere.status).toBe(101);
    elsewhere.socket!.destroy();
  });

  it('bad tokens sent in WebSocket connect and refresh frames count too', async () => {
    const { srv, api, bad } = await setup();
    await using _ = srv;
    const peer = await connectWs(srv.wsUrl, { headers: from('198.51.100.5') });
    peer.send({ id: 1, type: 'connect', token: bad });
    for (let id = 2; id <= 4; id++) peer.send({ id, type: 'refresh', token: bad });
    await vi.waitFor(() => expect(errors(peer.frames)).toHaveLength(4), SLOW);
    expect(errors(peer.frames).map((e) => e.code)).toEqual(['token_invalid', 'token_invalid', 'token_invalid', 'rate_limited']);
    expect((await api('198.51.100.5', TEST_API_KEY)).status).toBe(429);
    expect((await api('198.51.100.6', TEST_API_KEY)).status).toBe(200);
    await peer.close();
  });
});
