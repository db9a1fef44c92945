import { describe, expect, it } from 'vitest';
import { api, routeAccess } from '../contract/index.js';
import { TOKEN_SECRET, errorOf, openSse, startWithConfig, upgrade } from './support/secured.js';
import { TEST_API_KEY } from './support/server.js';
import { signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

// Scoped API keys from the config file: each names the operations it may call and the namespaces
// it may touch; HUBBUB_API_KEY keeps full access; API keys and connection tokens never stand in
// for each other.

const KEYS = {
  old: 'billing-old-key-0123456789',
  new: 'billing-new-key-0123456789',
  reader: 'reader-key-0123456789abcdef',
};

const CONFIG = `
apiKeys:
  - name: billing-old
    key: ${KEYS.old}
    namespaces: [billing]
    operations: [publish, broadcast]
  - name: billing-new
    key: ${KEYS.new}
    namespaces: [billing]
    operations: [publish, broadcast]
  - name: reader
    key: ${KEYS.reader}
    namespaces: [billing]
    operations: [history, presence, users]
`;

async function setup() {
  const srv = await startWithConfig(CONFIG);
  const call = (key: string, method: string, path: string, body?: unknown) =>
    fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return { srv, call };
}

async function expectForbidden(res: Response, named: string): Promise<void> {
  expect(res.status).toBe(403);
  const body = errorOf(await res.text());
  expect(body.code).toBe('forbidden');
  expect(body.message).toContain(named);
}

describe('scoped API keys', () => {
  it('refuses an operation outside the key’s operations with 403 forbidden naming the operation', async () => {
    const { srv, call } = await setup();
    await using _ = srv;
    await expectForbidden(await call(KEYS.old, 'GET', '/api/channels/billing:x/history'), 'history');
    await expectForbidden(await call(KEYS.old, 'GET', '/api/channels/billing:x/presence'), 'presence');
    await expectForbidden(await call(KEYS.old, 'GET', '/api/channels'), 'channels');
    await expectForbidden(await call(KEYS.old, 'GET', '/api/info'), 'info');
    await expectForbidden(await call(KEYS.old, 'POST', '/api/users/ada/disconnect'), 'users');
    await expectForbidden(await call(KEYS.reader, 'POST', '/api/publish', { channel: 'billing:x', data: 1 }), 'publish');
    await expectForbidden(await call(KEYS.reader, 'POST', '/api/broadcast', { channels: ['billing:x'], data: 1 }), 'broadcast');
  });

  it('refuses a channel outside the key’s namespaces with 403 naming the namespace, on every operation that takes a channel', async () => {
    const { srv, call } = await setup();
    await using _ = srv;
    await expectForbidden(await call(KEYS.old, 'POST', '/api/publish', { channel: 'chat:x', data: 1 }), '"chat"');
    await expectForbidden(await call(KEYS.reader, 'GET', '/api/channels/chat:x/history'), '"chat"');
    await expectForbidden(await call(KEYS.reader, 'GET', '/api/channels/chat:x/presence'), '"chat"');
    await expectForbidden(await call(KEYS.reader, 'POST', '/api/users/ada/subscribe', { channel: 'chat:x' }), '"chat"');
    await expectForbidden(await call(KEYS.reader, 'POST', '/api/users/ada/unsubscribe', { channel: 'chat:x' }), '"chat"');
    // A channel without a colon is in the namespace "".
    await expectForbidden(await call(KEYS.old, 'POST', '/api/publish', { channel: 'lobby', data: 1 }), '""');
    // Inside its namespaces, the same calls pass.
    expect((await call(KEYS.old, 'POST', '/api/publish', { channel: 'billing:x', data: 1 })).status).toBe(200);
    expect((await call(KEYS.reader, 'GET', '/api/channels/billing:x/history')).status).toBe(200);
    expect((await call(KEYS.reader, 'GET', '/api/channels/billing:x/presence')).status).toBe(200);
    expect((await call(KEYS.reader, 'POST', '/api/users/ada/subscribe', { channel: 'billing:x' })).status).toBe(200);
    expect((await call(KEYS.reader, 'POST', '/api/users/ada/unsubscribe', { channel: 'billing:x' })).status).toBe(200);
  });

  it('publishes nothing at all from a broadcast with one channel outside the key’s namespaces', async () => {
    const { srv, call } = await setup();
    await using _ = srv;
    await expectForbidden(await call(KEYS.old, 'POST', '/api/broadcast', { channels: ['billing:a', 'chat:b', 'billing:c'], data: 1 }), '"chat"');
    for (const channel of ['billing:a', 'chat:b', 'billing:c']) {
      const history = await call(TEST_API_KEY, 'GET', `/api/channels/${channel}/history`);
      expect(((await history.json()) as { publications: unknown[] }).publications).toEqual([]);
    }
    const ok = await call(KEYS.old, 'POST', '/api/broadcast', { channels: ['billing:a', 'billing:c'], data: 1 });
    expect(ok.status).toBe(200);
  });

  it('accepts two keys with the same scope at once, so a key can be rotated without downtime', async () => {
    const { srv, call } = await setup();
    await using _ = srv;
    const before = await call(KEYS.old, 'POST', '/api/publish', { channel: 'billing:r', data: 'old' });
    const after = await call(KEYS.new, 'POST', '/api/publish', { channel: 'billing:r', data: 'new' });
    expect([before.status, after.status]).toEqual([200, 200]);
    expect(((await after.json()) as { offset: number }).offset).toBe(2);
  });

  it('keeps HUBBUB_API_KEY a full-access key beside the scoped ones', async () => {
    const { srv, call } = await setup();
    await using _ = srv;
    const calls: Array<[string, string, unknown?]> = [
      ['POST', '/api/publish', { channel: 'chat:x', data: 1 }],
      ['POST', '/api/broadcast', { channels: ['chat:x', 'billing:y', 'lobby'], data: 1 }],
      ['GET', '/api/channels/chat:x/history'],
      ['GET', '/api/channels/chat:x/presence'],
      ['GET', '/api/channels'],
      ['GET', '/api/info'],
      ['POST', '/api/users/ada/subscribe', { channel: 'chat:x' }],
      ['POST', '/api/users/ada/unsubscribe', { channel: 'chat:x' }],
      ['POST', '/api/users/ada/disconnect'],
    ];
    for (const [method, path, body] of calls) expect([path, (await call(TEST_API_KEY, method, path, body)).status]).toEqual([path, 200]);
  });

  it('never takes a connection token as an API key (401 unauthorized)', async () => {
    const { srv, call } = await setup();
    await using _ = srv;
    const token = await signToken(TOKEN_SECRET, { sub: 'ada' }, { expiresIn: 600 });
    const res = await call(token, 'GET', '/api/info');
    expect(res.status).toBe(401);
    expect(errorOf(await res.text()).code).toBe('unauthorized');
  });

  it.each(Object.entries({ master: TEST_API_KEY, scoped: KEYS.old }))('never takes an API key (%s) as a connection token (token_invalid), on any transport', async (_name, key) => {
    const { srv } = await setup();
    await using _ = srv;
    const sse = await openSse(srv.url, 'channels=news', { authorization: `Bearer ${key}` });
    expect([sse.status, errorOf(sse.body).code]).toEqual([401, 'token_invalid']);
    const poll = await fetch(`${srv.url}/poll?channels=news&token=${encodeURIComponent(key)}`);
    expect([poll.status, errorOf(await poll.text()).code]).toEqual([401, 'token_invalid']);
    const publish = await fetch(`${srv.url}/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'billing:x', data: 1 }),
    });
    expect([publish.status, errorOf(await publish.text()).code]).toEqual([401, 'token_invalid']);
    const up = await upgrade(srv.url, { authorization: `Bearer ${key}` });
    expect([up.status, errorOf(up.body).code]).toEqual([401, 'token_invalid']);
    const peer = await connectWs(srv.wsUrl);
    peer.send({ id: 1, type: 'connect', token: key });
    expect(await peer.next('error')).toMatchObject({ id: 1, code: 'token_invalid' });
    await peer.close();
  });

  it('every API-key route declares the refusals its guard can answer with (401, 403 scope, 429 failed keys)', () => {
    for (const [name, route] of Object.entries(api)) {
      if (routeAccess(route)?.auth !== 'apiKey') continue;
      expect([name, Object.keys(route.responses).sort()]).toEqual([name, expect.arrayContaining(['401', '403', '429'])]);
    }
  });
});
