import { describe, expect, it, vi } from 'vitest';
import { HubbubError } from '../client/index.js';
import { collect } from './support/collect.js';
import { tokenFor } from './support/fake-auth.js';
import { hubFixtures, next, only, tokens } from './support/hub-fixture.js';

// hub.publish: a command on the open WebSocket, else POST /publish with the connection token.
// Every refusal rejects with a HubbubError carrying the contract's code.

const { peer, hub } = hubFixtures();
const HOUR = 3_600_000;
const fresh = (n = 0) => tokenFor(Date.now(), HOUR, { n });

describe('hub.publish over the WebSocket', () => {
  it('sends a publish command and resolves with the position; the publication carries the publisher the server stamped', async () => {
    const p = await peer();
    p.auth.publishable.add('chat:a');
    const h = hub(p, { ...only('websocket'), token: fresh() });
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    const r = await h.publish('chat:a', { text: 'hi' }, { tags: { kind: 'chat' }, idempotencyKey: 'k1' });
    expect(r).toEqual({ channel: 'chat:a', epoch: p.channel('chat:a').epoch, offset: 1 });
    expect(p.wsFrames.at(-1)).toEqual({ id: expect.any(Number), type: 'publish', channel: 'chat:a', data: { text: 'hi' }, tags: { kind: 'chat' }, idempotencyKey: 'k1' });
    await vi.waitFor(() => expect(c.pubs).toHaveLength(1));
    expect(c.pubs[0]!.publisher).toEqual({ user: 'ada', client: 'c1' });
    expect(p.httpPublishes).toEqual([]);
  });

  it('rejects with the code of an error frame, and the subscription lives on', async () => {
    const p = await peer();
    const h = hub(p, { ...only('websocket'), token: fresh() });
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    const err = await h.publish('chat:a', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubbubError);
    expect(err).toMatchObject({ code: 'forbidden', status: 0, retryable: false });
    expect([c.sub.status, h.state]).toEqual(['subscribed', 'connected']);
  });

  it('rejects a publish still waiting for its reply with a retryable unavailable error when the connection drops', async () => {
    const p = await peer();
    p.auth.publishable.add('chat:a');
    p.answerPublishes = false;
    const h = hub(p, { ...only('websocket'), token: fresh() });
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    const pending = h.publish('chat:a', 1).catch((e: unknown) => e);
    await vi.waitFor(() => expect(p.wsFrames.at(-1)).toMatchObject({ type: 'publish' }));
    p.kick(4000);
    expect(await pending).toMatchObject({ name: 'HubbubError', code: 'unavailable', retryable: true });
  });
});

describe.each(['sse', 'poll'] as const)('hub.publish while connected over %s', (transport) => {
  it('POSTs /publish with the connection token and resolves with the position', async () => {
    const p = await peer();
    p.auth.publishable.add('chat:a');
    const token = fresh();
    const h = hub(p, { ...only(transport), token });
    const c = collect(h, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    const r = await h.publish('chat:a', { text: 'hi' }, { idempotencyKey: 'k1' });
    expect(r).toEqual({ channel: 'chat:a', epoch: p.channel('chat:a').epoch, offset: 1 });
    expect(p.httpPublishes).toEqual([{ authorization: `Bearer ${token}`, body: { channel: 'chat:a', data: { text: 'hi' }, idempotencyKey: 'k1' } }]);
    await vi.waitFor(() => expect(c.data()).toEqual([{ text: 'hi' }]));
  });
});

describe('hub.publish over HTTP', () => {
  it('works before connecting, with the token from getToken', async () => {
    const p = await peer();
    p.auth.publishable.add('chat:a');
    const t = tokens(fresh());
    const h = hub(p, { autoConnect: false, getToken: t.getToken });
    const r = await h.publish('chat:a', 'early');
    expect(r).toMatchObject({ channel: 'chat:a', offset: 1 });
    expect(p.httpPublishes).toEqual([{ authorization: `Bearer ${await t.getToken()}`, body: { channel: 'chat:a', data: 'early' } }]);
    expect([h.state, p.attempts]).toEqual(['disconnected', []]);
  });

  it('rejects with the contract code: 403 forbidden, 429 rate_limited with the Retry-After in ms', async () => {
    const p = await peer();
    const h = hub(p, { autoConnect: false, token: fresh() });
    await expect(h.publish('chat:closed', 1)).rejects.toMatchObject({ name: 'HubbubError', code: 'forbidden', status: 403 });
    p.auth.publishable.add('chat:a');
    p.auth.rateLimit = { times: 1, retryAfter: 3 };
    await expect(h.publish('chat:a', 1)).rejects.toMatchObject({ code: 'rate_limited', status: 429, retryable: true, retryAfter: 3_000 });
  });

  it('sends no Authorization header for an anonymous client (the server refuses)', async () => {
    const p = await peer();
    p.auth.publishable.add('chat:a');
    const h = hub(p, { autoConnect: false });
    await expect(h.publish('chat:a', 1)).rejects.toMatchObject({ code: 'forbidden' });
    expect(p.httpPublishes).toEqual([{ body: { channel: 'chat:a', data: 1 } }]);
  });

  it('after 401 token_expired, gets a fresh token and sends the publish once more', async () => {
    const p = await peer();
    p.auth.publishable.add('chat:a');
    p.auth.opaque.add('old');
    p.auth.expired.add('old');
    const token = fresh();
    const t = tokens(token);
    const h = hub(p, { autoConnect: false, token: 'old', getToken: t.getToken });
    expect(await h.publish('chat:a', 1, { idempotencyKey: 'once' })).toMatchObject({ offset: 1 });
    expect(p.httpPublishes.map((x) => x.authorization)).toEqual(['Bearer old', `Bearer ${token}`]);
    expect(t.calls()).toBe(1);
  });

  it('rejects an invalid channel locally', async () => {
    const p = await peer();
    const h = hub(p, { autoConnect: false });
    await expect(h.publish('bad channel', 1)).rejects.toMatchObject({ code: 'invalid_channel' });
    expect(p.httpPublishes).toEqual([]);
  });
});

describe('hub.publish when the WebSocket is not the transport in use', () => {
  it('goes over HTTP while a WebSocket client is still connecting', async () => {
    const p = await peer();
    p.auth.publishable.add('chat:a');
    const h = hub(p, { ...only('websocket'), token: fresh() });
    const connected = next(h, 'connected');
    const r = await h.publish('chat:a', 1);
    expect(r).toMatchObject({ offset: 1 });
    expect(p.httpPublishes).toHaveLength(1);
    await connected;
  });
});
