import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PublishProxyRequest } from '../contract/index.js';
import { scrape } from './support/exposition.js';
import { TOKEN_SECRET, type SseStream, openSse, startWithConfig } from './support/secured.js';
import { TEST_API_KEY, type TestServer } from './support/server.js';
import { signToken } from './support/tokens.js';
import { WebhookReceiver } from './support/webhook-receiver.js';
import { connectWs } from './support/ws-client.js';

// The synchronous publish proxy (docs/webhooks.md): the backend accepts, rewrites or rejects each
// client publication of a namespace before it is stored; when it fails to answer, nothing is published.

const SECRET = 'proxy-secret-0123456789abcdef';
const TIMEOUT_MS = 300;

let receiver: WebhookReceiver;
let srv: TestServer;
/** Subscribed to mod:room before each test: what it receives is what was published. */
let subscriber: SseStream;

beforeEach(async () => {
  receiver = await WebhookReceiver.start();
  srv = await startWithConfig(
    `
webhooks:
  secret: ${SECRET}
namespaces:
  mod:
    publish: authenticated
    publishProxy: { url: "${receiver.url}/proxy", timeoutMs: ${TIMEOUT_MS} }
`,
    { HUBBUB_LIMIT_PUBLISHES: '10000' },
  );
  subscriber = await openSse(srv.url, 'channels=mod:room');
  await subscriber.next('subscribed');
});

afterEach(async () => {
  await subscriber.close();
  await srv.close();
  await receiver.close();
});

async function clientPublish(data: unknown, sub = 'ada'): Promise<{ status: number; body: Record<string, unknown> }> {
  const token = await signToken(TOKEN_SECRET, { sub, info: { name: 'Ada' } });
  const res = await fetch(`${srv.url}/publish?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'mod:room', data }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The data of the publications the subscriber received so far. */
const received = () => subscriber.events.filter((e) => e.event === 'publication').map((e) => (JSON.parse(e.data) as { data: unknown }).data);

/** Nothing reached subscribers: a publication accepted afterwards is the first one they get. */
async function expectNothingPublished(): Promise<void> {
  receiver.respond = () => ({ status: 200, body: { result: {} } });
  expect((await clientPublish('sentinel')).status).toBe(200);
  await vi.waitFor(() => expect(received()).toEqual(['sentinel']), { timeout: 10_000 });
}

describe('publish proxy', () => {
  it('accepts: the publication is stored as sent, after a signed request naming the user', async () => {
    receiver.respond = () => ({ status: 200, body: { result: {} } });
    const res = await clientPublish({ text: 'hello' });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(received()).toEqual([{ text: 'hello' }]), { timeout: 10_000 });
    const [req] = receiver.requests;
    const body = PublishProxyRequest.parse(JSON.parse(req!.body));
    expect(body).toMatchObject({ channel: 'mod:room', data: { text: 'hello' }, user: 'ada', transport: 'http', info: { name: 'Ada' } });
    const { t, v1 } = Object.fromEntries(String(req!.headers['hubbub-signature']).split(',').map((p) => p.split('='))) as { t: string; v1: string };
    expect(v1).toBe(createHmac('sha256', SECRET).update(`${t}.${req!.body}`).digest('hex'));
  });

  it('rewrites: subscribers get the data the backend answered with', async () => {
    receiver.respond = () => ({ status: 200, body: { result: { data: { text: '***', moderated: true } } } });
    expect((await clientPublish({ text: 'darn' })).status).toBe(200);
    await vi.waitFor(() => expect(received()).toEqual([{ text: '***', moderated: true }]), { timeout: 10_000 });
  });

  it('rejects with an error answer: publish_rejected with the backend message, nothing published', async () => {
    receiver.respond = () => ({ status: 200, body: { error: { code: 4001, message: 'no shouting' } } });
    const res = await clientPublish('HEY');
    expect(res).toMatchObject({ status: 403, body: { code: 'publish_rejected', retryable: false } });
    expect(res.body['message']).toContain('no shouting');
    await expectNothingPublished();
  });

  it('rejects with an HTTP 4xx: publish_rejected, nothing published', async () => {
    receiver.respond = () => ({ status: 403 });
    expect(await clientPublish('x')).toMatchObject({ status: 403, body: { code: 'publish_rejected' } });
    await expectNothingPublished();
  });

  it('times out: webhook_unavailable, nothing published', async () => {
    receiver.respond = () => new Promise(() => undefined);
    expect(await clientPublish('late')).toMatchObject({ status: 503, body: { code: 'webhook_unavailable', retryable: true } });
    await expectNothingPublished();
  });

  it('fails closed when the backend answers 500, something unreadable, or is down: webhook_unavailable, nothing published', async () => {
    receiver.respond = () => ({ status: 500, body: { result: {} } });
    expect(await clientPublish('a')).toMatchObject({ status: 503, body: { code: 'webhook_unavailable' } });
    receiver.respond = () => ({ status: 200, body: { ok: true } });
    expect(await clientPublish('b')).toMatchObject({ status: 503, body: { code: 'webhook_unavailable' } });
    await receiver.close();
    expect(await clientPublish('c')).toMatchObject({ status: 503, body: { code: 'webhook_unavailable' } });
    await receiver.open();
    await expectNothingPublished();
    const metrics = await scrape(srv.url, TEST_API_KEY);
    expect(metrics.value('hubbub_publish_proxy_total', { outcome: 'unavailable' })).toBe(3);
    expect(metrics.value('hubbub_publish_proxy_total', { outcome: 'accepted' })).toBe(1);
    expect(metrics.value('hubbub_publications_refused_total', { code: 'webhook_unavailable' })).toBe(3);
  });

  it('answers a WebSocket publish command with the error frame, and never asks about backend publications', async () => {
    receiver.respond = () => ({ status: 200, body: { error: { message: 'not here' } } });
    const ws = await connectWs(srv.wsUrl);
    ws.send({ id: 1, type: 'connect', token: await signToken(TOKEN_SECRET, { sub: 'bob' }) });
    await ws.next('connected', (f) => f.user === 'bob');
    ws.send({ id: 2, type: 'publish', channel: 'mod:room', event: 'create', data: 'from ws' });
    expect(await ws.next('error', (f) => f.id === 2)).toMatchObject({ code: 'publish_rejected' });
    // The backend decides knowing the publication's event name too.
    expect(PublishProxyRequest.parse(JSON.parse(receiver.requests[0]!.body))).toMatchObject({ user: 'bob', transport: 'websocket', event: 'create' });
    await ws.close();
    await srv.publish('mod:room', 'from the backend');
    await vi.waitFor(() => expect(received()).toEqual(['from the backend']), { timeout: 10_000 });
    expect(receiver.requests).toHaveLength(1);
  });
});
