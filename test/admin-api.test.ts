import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdminConfig, AdminSession, DISCONNECT_TABLE, ErrorBody } from '../contract/index.js';
import { memoryLogger } from '../server/logger.js';
import { type TestServer, TEST_API_KEY, startServer } from './support/server.js';
import { serverSecret, signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

// The admin dashboard's API on real servers: sign-in, the cookie, CSRF, publish, disconnect, the
// masked configuration and the log of every action (docs/admin.md).

const PASSWORD = 'correct horse battery staple';


const servers: TestServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function start(env: Record<string, string> = { HUBBUB_ADMIN_PASSWORD: PASSWORD }) {
  const logger = memoryLogger();
  const srv = await startServer(env, { logger });
  servers.push(srv);
  // The messages logged so far, warnings marked (every admin action is an info line).
  const lines = () => logger.records().map((r) => (r.level >= 40 ? `warn: ${r.msg}` : r.msg));
  return { srv, lines };
}

const json = { 'content-type': 'application/json' };

function login(srv: TestServer, secret: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${srv.url}/admin/api/login`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify({ secret }) });
}

/** Signs in; the cookie pair to send back and the CSRF token. */
async function session(srv: TestServer, secret = PASSWORD): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await login(srv, secret);
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const body = AdminSession.parse(await res.json());
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrf, setCookie };
}

function adminPost(srv: TestServer, path: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  return fetch(`${srv.url}/admin/api/${path}`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });
}

async function errorCode(res: Response): Promise<string> {
  return ErrorBody.parse(await res.json()).code;
}

describe('admin dashboard API', () => {
  it('answers 404 not_found everywhere under /admin while no admin password or admin key is configured', async () => {
    const { srv } = await start({});
    for (const path of ['/admin', '/admin/admin.js', '/admin/admin.css', '/admin/api/nodes', '/admin/api/config']) {
      const res = await fetch(srv.url + path);
      expect(res.status, path).toBe(404);
      expect(await errorCode(res), path).toBe('not_found');
    }
    expect(await errorCode(await login(srv, TEST_API_KEY))).toBe('not_found');
  });

  it('refuses a wrong password with admin_login_failed, and the full-access API key is no admin key', async () => {
    const { srv, lines } = await start();
    const wrong = await login(srv, 'not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(await errorCode(wrong)).toBe('admin_login_failed');
    expect(await errorCode(await login(srv, TEST_API_KEY))).toBe('admin_login_failed');
    expect(lines().filter((l) => l.includes('failed to sign in'))).toHaveLength(2);
    expect(lines().join('\n')).not.toContain('not the password');
  });

  it('rate-limits failed sign-ins per address, then refuses even the right password for a while', async () => {
    const { srv } = await start({ HUBBUB_ADMIN_PASSWORD: PASSWORD, HUBBUB_LIMIT_AUTH_FAILURES: '2' });
    expect((await login(srv, 'guess one')).status).toBe(401);
    expect((await login(srv, 'guess two')).status).toBe(401);
    const limited = await login(srv, 'guess three');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await errorCode(await login(srv, PASSWORD))).toBe('rate_limited');
  });

  it('sets an HttpOnly, SameSite=Strict session cookie on /admin, Secure only behind TLS from a trusted proxy', async () => {
    const { srv } = await start();
    const { setCookie } = await session(srv);
    expect(setCookie).toMatch(/^hubbub_admin=[\w.-]+;/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/admin');
    expect(setCookie).not.toContain('Secure');
    // X-Forwarded-Proto from an untrusted peer is ignored…
    expect((await login(srv, PASSWORD, { 'x-forwarded-proto': 'https' })).headers.get('set-cookie')).not.toContain('Secure');
    // …and believed from a trusted proxy.
    const { srv: proxied } = await start({ HUBBUB_ADMIN_PASSWORD: PASSWORD, HUBBUB_TRUSTED_PROXIES: '127.0.0.1,::1' });
    expect((await login(proxied, PASSWORD, { 'x-forwarded-proto': 'https' })).headers.get('set-cookie')).toContain('; Secure');
  });

  it('needs the session cookie on every admin route, and refuses a forged one', async () => {
    const { srv } = await start();
    expect(await errorCode(await fetch(`${srv.url}/admin/api/nodes`))).toBe('admin_session_required');
    const { cookie } = await session(srv);
    const forged = cookie.replace(/\.[\w-]+$/, '.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(await errorCode(await fetch(`${srv.url}/admin/api/nodes`, { headers: { cookie: forged } }))).toBe('admin_session_required');
    // The expiry is signed too: pushing it forward breaks the signature.
    const [, expires] = /=(\d+)\./.exec(cookie)!;
    const extended = cookie.replace(`=${expires}.`, `=${Number(expires) + 86_400_000}.`);
    expect(await errorCode(await fetch(`${srv.url}/admin/api/nodes`, { headers: { cookie: extended } }))).toBe('admin_session_required');
    const ok = await fetch(`${srv.url}/admin/api/nodes`, { headers: { cookie } });
    expect(ok.status).toBe(200);
  });

  it('refuses a state-changing call without the CSRF token, with a wrong one, or from another site', async () => {
    const { srv } = await start();
    const { cookie, csrf } = await session(srv);
    const publish = { channel: 'news', data: { n: 1 } };
    const missing = await adminPost(srv, 'publish', publish, { cookie });
    expect(missing.status).toBe(403);
    expect(await errorCode(missing)).toBe('forbidden');
    expect((await adminPost(srv, 'publish', publish, { cookie, 'x-csrf-token': csrf.slice(1) })).status).toBe(403);
    expect((await adminPost(srv, 'publish', publish, { cookie, 'x-csrf-token': csrf, origin: 'https://evil.example' })).status).toBe(403);
    expect((await adminPost(srv, 'publish', publish, { cookie, 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await login(srv, PASSWORD, { origin: 'https://evil.example' })).status).toBe(403);
    const history = await srv.api('/api/channels/news/history');
    expect((await history.json()).publications).toEqual([]);
    const ok = await adminPost(srv, 'publish', publish, { cookie, 'x-csrf-token': csrf, origin: srv.url, 'sec-fetch-site': 'same-origin' });
    expect(ok.status).toBe(200);
  });

  it('works on another node of the same configuration: the cookie is signed, not stored (no sticky sessions)', async () => {
    const { srv: a } = await start();
    const { srv: b } = await start();
    const { cookie, csrf } = await session(a);
    expect((await fetch(`${b.url}/admin/api/session`, { headers: { cookie } })).status).toBe(200);
    expect((await adminPost(b, 'publish', { channel: 'x', data: 1 }, { cookie, 'x-csrf-token': csrf })).status).toBe(200);
    // A node with another password signs with another key.
    const { srv: other } = await start({ HUBBUB_ADMIN_PASSWORD: 'another password entirely' });
    expect(await errorCode(await fetch(`${other.url}/admin/api/session`, { headers: { cookie } }))).toBe('admin_session_required');
  });

  it('publishes through the publish service: the message is in history and reaches a WebSocket subscriber', async () => {
    const { srv, lines } = await start();
    const { cookie, csrf } = await session(srv);
    const peer = await connectWs(srv.wsUrl);
    peer.send({ id: 1, type: 'subscribe', channel: 'news' });
    await peer.next('subscribed');
    const res = await adminPost(srv, 'publish', { channel: 'news', data: { hello: 'admin' } }, { cookie, 'x-csrf-token': csrf });
    expect(res.status).toBe(200);
    const { offset } = (await res.json()) as { offset: number };
    const received = await peer.next('publication');
    expect(received.data).toEqual({ hello: 'admin' });
    expect(received.offset).toBe(offset);
    const page = await fetch(`${srv.url}/admin/api/channels/news`, { headers: { cookie } });
    const body = (await page.json()) as { history: { publications: Array<{ data: unknown }> } };
    expect(body.history.publications.map((p) => p.data)).toEqual([{ hello: 'admin' }]);
    expect(srv.app.hub.channelCounts()).toEqual([{ channel: 'news', subscribers: 1 }]);
    // The channels page lists it with its subscriber.
    const channels = (await (await fetch(`${srv.url}/admin/api/channels`, { headers: { cookie } })).json()) as { channels: Array<{ channel: string; subscribers: number }> };
    expect(channels.channels).toEqual([expect.objectContaining({ channel: 'news', subscribers: 1 })]);
    expect(lines()).toContainEqual(expect.stringMatching(/^admin: password published to news at offset 1 \(from /));
    await peer.close();
  });

  it("disconnects every connection of a user: the WebSocket closes with disconnected_by_server", async () => {
    const { srv, lines } = await start();
    const { cookie, csrf } = await session(srv);
    const token = await signToken(serverSecret(srv.config), { sub: 'ada' });
    const ada = await connectWs(`${srv.wsUrl}?token=${token}`);
    const bob = await connectWs(`${srv.wsUrl}?token=${await signToken(serverSecret(srv.config), { sub: 'bob' })}`);
    const res = await adminPost(srv, 'disconnect', { user: 'ada' }, { cookie, 'x-csrf-token': csrf });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user: 'ada', connections: 1 });
    expect(await ada.closeCode).toBe(DISCONNECT_TABLE.disconnected_by_server.code);
    await vi.waitFor(() => expect(srv.app.registries().transports.websocket).toBe(1));
    expect(bob.ws.readyState).toBe(bob.ws.OPEN);
    expect(lines()).toContainEqual(expect.stringMatching(/^admin: password disconnected user ada \(1 connections\)/));
    await bob.close();
  });

  it('shows the effective configuration with every secret masked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-admin-'));
    dirs.push(dir);
    const opsKey = 'ops-admin-key-0123456789abcdef';
    const pubKey = 'publisher-key-0123456789abcdef';
    const file = join(dir, 'hubbub.yaml');
    await writeFile(
      file,
      [
        'apiKeys:',
        `  - { name: ops, key: ${opsKey}, operations: [admin] }`,
        `  - { name: pub, key: ${pubKey}, namespaces: [news], operations: [publish] }`,
        'namespaces:',
        '  chat: { publish: authenticated }',
      ].join('\n'),
    );
    const tokenSecret = 'token-secret-0123456789abcdefghijklmnop';
    const natsPassword = 's3cr3t-nats-pass';
    const { srv, lines } = await start({
      HUBBUB_CONFIG: file,
      HUBBUB_TOKEN_SECRET: tokenSecret,
      HUBBUB_ADMIN_PASSWORD: PASSWORD,
      HUBBUB_NATS_URL: `nats://hubbub:${natsPassword}@127.0.0.1:4222,nats://other:${natsPassword}@127.0.0.2:4222`,
    });
    // The admin-scoped key signs in too, under its name.
    const res = await login(srv, opsKey);
    expect(res.status).toBe(200);
    expect(AdminSession.parse(await res.json()).who).toBe('key:ops');
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    const text = await (await fetch(`${srv.url}/admin/api/config`, { headers: { cookie } })).text();
    for (const secret of [TEST_API_KEY, tokenSecret, PASSWORD, opsKey, pubKey, natsPassword]) expect(text).not.toContain(secret);
    const config = AdminConfig.parse(JSON.parse(text));
    expect(config.settings['nats']).toBe('nats://••••••••@127.0.0.1:4222,nats://••••••••@127.0.0.2:4222');
    expect(config.settings['historySize']).toBe(100);
    expect(config.apiKeys.map((k) => [k.name, k.operations])).toEqual([
      ['ops', ['admin']],
      ['pub', ['publish']],
    ]);
    expect(config.namespaces).toEqual({ chat: { publish: 'authenticated' } });
    expect(lines()).toContainEqual(expect.stringMatching(/^admin: key:ops viewed the configuration/));
  });

  it('logs every action: sign-in, publish, disconnect, configuration, sign-out', async () => {
    const { srv, lines } = await start();
    const { cookie, csrf } = await session(srv);
    await adminPost(srv, 'publish', { channel: 'a', data: 1 }, { cookie, 'x-csrf-token': csrf });
    await adminPost(srv, 'disconnect', { user: 'nobody' }, { cookie, 'x-csrf-token': csrf });
    await fetch(`${srv.url}/admin/api/config`, { headers: { cookie } });
    const out = await fetch(`${srv.url}/admin/api/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.headers.get('set-cookie')).toMatch(/^hubbub_admin=; Path=\/admin; Max-Age=0/);
    const actions = lines().filter((l) => l.startsWith('admin: ')).map((l) => l.replace(/ \(from [^)]+\)$/, ''));
    expect(actions).toEqual([
      'admin: password signed in',
      'admin: password published to a at offset 1',
      'admin: password disconnected user nobody (0 connections)',
      'admin: password viewed the configuration',
      'admin: password signed out',
    ]);
  });
});
