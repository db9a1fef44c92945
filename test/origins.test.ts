import { describe, expect, it } from 'vitest';
import { connectWs } from './support/ws-client.js';
import { errorOf, openSse, upgrade } from './support/secured.js';
import { TEST_API_KEY, startServer } from './support/server.js';

// --allowed-origins: which web pages may use the realtime endpoints, the client publish endpoint
// and the browser bundle from a visitor's browser. WebSocket upgrades are checked before any
// WebSocket exists; the HTTP routes answer CORS, and the server API (/api) never does.

const APP = 'https://app.example.com';
const EVIL = 'https://evil.example.net';

describe('WebSocket upgrades and Origin', () => {
  it('refuses a foreign Origin with a plain HTTP 403 and the error body, before any WebSocket', async () => {
    await using srv = await startServer({ HUBBUB_ALLOWED_ORIGINS: APP });
    const answer = await upgrade(srv.url, { origin: EVIL });
    expect(answer.status).toBe(403);
    expect(answer.socket).toBeUndefined();
    expect(answer.headers['content-type']).toBe('application/json');
    expect(errorOf(answer.body)).toMatchObject({ code: 'forbidden', message: expect.stringContaining(EVIL) });
    expect(srv.app.registries().transports.websocket).toBe(0);
  });

  it('connects with an allowed Origin, and without any Origin (a backend, a CLI)', async () => {
    await using srv = await startServer({ HUBBUB_ALLOWED_ORIGINS: `${APP},https://other.example.org` });
    const browser = await connectWs(srv.wsUrl, { origin: APP });
    const backend = await connectWs(srv.wsUrl);
    expect(srv.app.registries().transports.websocket).toBe(2);
    await browser.close();
    await backend.close();
  });

  it('with nothing configured, allows only the same origin (Origin equal to the Host)', async () => {
    await using srv = await startServer();
    const same = await connectWs(srv.wsUrl, { origin: srv.url });
    await same.close();
    expect((await upgrade(srv.url, { origin: 'http://localhost:1' })).status).toBe(403);
    // Another port is another origin.
    expect((await upgrade(srv.url, { origin: `http://127.0.0.1:${srv.app.port + 1}` })).status).toBe(403);
  });
});

describe('CORS on the HTTP routes pages may use', () => {
  it('SSE and poll with an allowed Origin echo it with credentials and Vary: Origin', async () => {
    await using srv = await startServer({ HUBBUB_ALLOWED_ORIGINS: APP });
    const sse = await openSse(srv.url, 'channels=cors:a', { origin: APP });
    expect(sse.status).toBe(200);
    const poll = await fetch(`${srv.url}/poll?channels=cors:b`, { headers: { origin: APP } });
    expect(poll.status).toBe(200);
    for (const headers of [sse.headers, poll.headers]) {
      expect(headers.get('access-control-allow-origin')).toBe(APP);
      expect(headers.get('access-control-allow-credentials')).toBe('true');
      expect(headers.get('vary')).toMatch(/\bOrigin\b/);
    }
    await sse.close();
  });

  it('a refusal to an allowed Origin carries the CORS headers too, so the page can read why', async () => {
    await using srv = await startServer({ HUBBUB_ALLOWED_ORIGINS: APP });
    const res = await fetch(`${srv.url}/poll?channels=not%20a%20channel`, { headers: { origin: APP } });
    expect(res.status).toBe(400);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
  });

  it.each(['/sse', '/poll', '/publish', '/client/hubbub.js'])('answers a preflight OPTIONS %s with 204 and the allowed methods and headers', async (path) => {
    await using srv = await startServer({ HUBBUB_ALLOWED_ORIGINS: APP });
    const res = await fetch(`${srv.url}${path}`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': path === '/publish' ? 'POST' : 'GET', 'access-control-request-headers': 'authorization, last-event-id' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-methods')).toMatch(path === '/publish' ? /POST/ : /GET/);
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    expect(allowed).toContain('authorization');
    expect(allowed).toContain('last-event-id');
  });

  it.each([
    ['GET', '/sse?channels=cors:a'],
    ['GET', '/poll?channels=cors:a'],
    ['POST', '/publish'],
    ['GET', '/client/hubbub.js'],
    ['OPTIONS', '/sse'],
  ])('refuses a foreign Origin on %s %s with 403 forbidden', async (method, path) => {
    await using srv = await startServer({ HUBBUB_ALLOWED_ORIGINS: APP });
    const res = await fetch(`${srv.url}${path}`, {
      method,
      headers: { origin: EVIL, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: JSON.stringify({ channel: 'cors:a', data: 1 }) } : {}),
    });
    expect(res.status).toBe(403);
    expect(errorOf(await res.text()).code).toBe('forbidden');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('serves the browser bundle and takes client publishes from an allowed Origin with the CORS headers', async () => {
    await using srv = await startServer({ HUBBUB_ALLOWED_ORIGINS: APP });
    const bundle = await fetch(`${srv.url}/client/hubbub.js`, { headers: { origin: APP } });
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('access-control-allow-origin')).toBe(APP);
    // An anonymous publish is refused by the namespace, not by the origin check, and the page can read it.
    const publish = await fetch(`${srv.url}/publish`, {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'cors:a', data: 1 }),
    });
    expect(publish.status).toBe(403);
    expect(errorOf(await publish.text()).message).not.toContain('origin');
    expect(publish.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('says Vary: Origin on those routes even to a request without Origin, so a shared cache never hands that answer to a page', async () => {
    await using srv = await startServer({ HUBBUB_ALLOWED_ORIGINS: APP });
    const bundle = await fetch(`${srv.url}/client/hubbub.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('vary')).toMatch(/\bOrigin\b/);
    expect(bundle.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('does not enable CORS on the server API (/api): no CORS headers, preflights are not answered', async () => {
    await using srv = await startServer({ HUBBUB_ALLOWED_ORIGINS: APP });
    const info = await fetch(`${srv.url}/api/info`, { headers: { origin: APP, authorization: `Bearer ${TEST_API_KEY}` } });
    expect(info.status).toBe(200);
    expect(info.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${srv.url}/api/publish`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.status).not.toBe(204);
  });

  it('with nothing configured, a same-origin page is served and a foreign one refused', async () => {
    await using srv = await startServer();
    const same = await fetch(`${srv.url}/poll?channels=cors:a`, { headers: { origin: srv.url } });
    expect(same.status).toBe(200);
    const foreign = await fetch(`${srv.url}/poll?channels=cors:a`, { headers: { origin: APP } });
    expect(foreign.status).toBe(403);
  });
});
