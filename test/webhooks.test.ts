import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DISCONNECT_TABLE, type WebhookEvent } from '../contract/index.js';
import { loadConfig } from '../server/config.js';
import { parseExposition, scrape } from './support/exposition.js';
import { openSession } from './support/raw-clients.js';
import { TOKEN_SECRET, openSse, startWithConfig } from './support/secured.js';
import { TEST_API_KEY, type TestServer, startServer } from './support/server.js';
import { signToken } from './support/tokens.js';
import { WebhookReceiver } from './support/webhook-receiver.js';
import { connectWs } from './support/ws-client.js';

// Asynchronous webhooks end to end (docs/webhooks.md): a real Hubbub posting to a real HTTP receiver
// started here, which goes down and comes back on the same port.

const SECRET = 'webhook-secret-0123456789abcdef';
const WAIT = { timeout: 15_000, interval: 20 };

function config(receiver: WebhookReceiver, extra = ''): string {
  return `
webhooks:
  url: ${receiver.url}/events
  secret: ${SECRET}
  events: [connect, disconnect]
  retryMinMs: 20
  retryMaxMs: 200
  maxAttempts: 1000
${extra}
namespaces:
  room:
    publish: authenticated
    webhooks: [occupied, vacated, publish]
`;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setUp(extra = ''): Promise<{ srv: TestServer; receiver: WebhookReceiver }> {
  const receiver = await WebhookReceiver.start();
  cleanups.push(() => receiver.close());
  const srv = await startWithConfig(config(receiver, extra), { HUBBUB_LIMIT_PUBLISHES: '10000' });
  cleanups.push(() => srv.close());
  return { srv, receiver };
}

const token = (sub: string) => signToken(TOKEN_SECRET, { sub, info: { name: sub.toUpperCase() } });
const ofType = <T extends WebhookEvent['type']>(events: WebhookEvent[], type: T) => events.filter((e): e is Extract<WebhookEvent, { type: T }> => e.type === type);

async function clientPublish(srv: TestServer, sub: string, channel: string, data: unknown): Promise<Response> {
  return fetch(`${srv.url}/publish?token=${await token(sub)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel, data }) });
}

describe('connection events', () => {
  it('sends connect and disconnect with the user id for a WebSocket that names its user in its connect frame', async () => {
    const { srv, receiver } = await setUp();
    const ws = await connectWs(srv.wsUrl);
    ws.send({ id: 1, type: 'connect', token: await token('ada') });
    const connected = await ws.next('connected', (f) => f.user === 'ada');
    await vi.waitFor(() => expect(ofType(receiver.events(), 'connect')).toHaveLength(1), WAIT);
    await ws.close();
    await vi.waitFor(() => expect(ofType(receiver.events(), 'disconnect')).toHaveLength(1), WAIT);
    const [connect] = ofType(receiver.events(), 'connect');
    const [disconnect] = ofType(receiver.events(), 'disconnect');
    expect(connect).toMatchObject({ user: 'ada', transport: 'websocket', client: connected.client, info: { name: 'ADA' } });
    expect(disconnect).toMatchObject({ user: 'ada', transport: 'websocket', client: connected.client, by: 'client', code: 1005 });
  });

  it('sends connect and disconnect with the user id for an SSE stream, and nothing for an anonymous one', async () => {
    const { srv, receiver } = await setUp();
    const anonymous = await openSse(srv.url, 'channels=open');
    await anonymous.next('connected');
    const sse = await openSse(srv.url, `channels=open&token=${await token('bob')}`);
    await sse.next('connected');
    await vi.waitFor(() => expect(ofType(receiver.events(), 'connect').map((e) => [e.user, e.transport])).toEqual([['bob', 'sse']]), WAIT);
    await sse.close();
    await anonymous.close();
    await vi.waitFor(() => expect(ofType(receiver.events(), 'disconnect').map((e) => [e.user, e.transport, e.by])).toEqual([['bob', 'sse', 'client']]), WAIT);
    await vi.waitFor(() => expect(srv.app.registries().transports.sse).toBe(0), WAIT);
    expect(receiver.events().every((e) => e.type !== 'connect' || e.user !== '')).toBe(true);
  });

  it('says the server ended a connection, with the code and reason of the disconnect table', async () => {
    const { srv, receiver } = await setUp();
    const sse = await openSse(srv.url, `channels=open&token=${await token('eve')}`);
    await sse.next('connected');
    expect((await srv.api('/api/users/eve/disconnect', { method: 'POST' })).status).toBe(200);
    await sse.ended;
    await vi.waitFor(() => expect(ofType(receiver.events(), 'disconnect')).toHaveLength(1), WAIT);
    expect(ofType(receiver.events(), 'disconnect')[0]).toMatchObject({ user: 'eve', by: 'server', reason: 'disconnected_by_server', code: DISCONNECT_TABLE.disconnected_by_server.code });
  });
});

describe('shutdown', () => {
  it("sends the disconnects of the clients a draining node closes before close() resolves", async () => {
    const receiver = await WebhookReceiver.start();
    cleanups.push(() => receiver.close());
    const srv = await startWithConfig(config(receiver), { HUBBUB_LIMIT_PUBLISHES: '10000' });
    const ws = await connectWs(srv.wsUrl);
    ws.send({ id: 1, type: 'connect', token: await token('ada') });
    await ws.next('connected');
    const sse = await openSse(srv.url, `channels=open&token=${await token('bob')}`);
    await sse.next('connected');
    await vi.waitFor(() => expect(ofType(receiver.events(), 'connect')).toHaveLength(2), WAIT);

    await srv.close();
    // No waiting here: close() resolved, so the drain's events were sent (or its time ran out).
    const gone = ofType(receiver.events(), 'disconnect');
    expect(gone.map((e) => [e.user, e.by, e.reason, e.code]).sort()).toEqual([
      ['ada', 'server', 'shutdown', DISCONNECT_TABLE.shutdown.code],
      ['bob', 'server', 'shutdown', DISCONNECT_TABLE.shutdown.code],
    ]);
  });

  it('waits for a batch already in flight at close() instead of aborting it: every disconnect is acknowledged', async () => {
    const receiver = await WebhookReceiver.start();
    cleanups.push(() => receiver.close());
    const srv = await startWithConfig(config(receiver), { HUBBUB_LIMIT_PUBLISHES: '10000' });
    const sse = await openSse(srv.url, `channels=open&token=${await token('dee')}`);
    await sse.next('connected');
    await vi.waitFor(() => expect(ofType(receiver.events(), 'connect')).toHaveLength(1), WAIT);
    // The receiver answers the disconnect late, so its batch is still in flight, with nothing queued
    // behind it, when the node's close() comes to the webhooks.
    receiver.respond = async (req) => {
      if (req.body.includes('"disconnect"')) await new Promise((resolve) => setTimeout(resolve, 300));
      return { status: 200, body: {} };
    };

    await srv.close();
    const metrics = parseExposition(await srv.app.metrics.exposition());
    expect(metrics.value('hubbub_webhook_events_total', { event: 'disconnect', outcome: 'sent' })).toBe(1);
  });

  it('gives up on a receiver that is down once --shutdown-timeout has passed', async () => {
    const receiver = await WebhookReceiver.start();
    const srv = await startWithConfig(config(receiver), { HUBBUB_SHUTDOWN_TIMEOUT: '1' });
    const sse = await openSse(srv.url, `channels=open&token=${await token('cy')}`);
    await sse.next('connected');
    await vi.waitFor(() => expect(ofType(receiver.events(), 'connect')).toHaveLength(1), WAIT);
    await receiver.close();
    // The disconnect cannot be delivered: close() still resolves (the test's timeout is the check).
    await srv.close();
    expect(ofType(receiver.events(), 'disconnect')).toEqual([]);
  });
});

describe('channel events', () => {
  it('sends occupied on the first subscriber of a namespace that asks for it, and vacated once the last left and the linger passed', async () => {
    const { srv, receiver } = await setUp();
    const a = await openSse(srv.url, 'channels=room:one,elsewhere');
    await a.next('subscribed');
    const b = await openSse(srv.url, 'channels=room:one');
    await b.next('subscribed');
    await vi.waitFor(() => expect(ofType(receiver.events(), 'occupied').map((e) => e.channel)).toEqual(['room:one']), WAIT);
    await a.close();
    await b.close();
    await vi.waitFor(() => expect(ofType(receiver.events(), 'vacated').map((e) => e.channel)).toEqual(['room:one']), WAIT);
    // `elsewhere` is in a namespace without webhooks, and the second subscriber occupied nothing new.
    expect(receiver.events().filter((e) => e.type === 'occupied' || e.type === 'vacated')).toHaveLength(2);
  });

  it('keeps a channel occupied across the polls of a long-poll client: one occupied, then one vacated after it stops', async () => {
    const { srv, receiver } = await setUp();
    const poller = await openSession('poll', srv.url, ['room:polled']);
    for (let i = 1; i <= 3; i++) {
      await srv.publish('room:polled', i);
      await vi.waitFor(() => expect(poller.publications).toHaveLength(i), WAIT);
    }
    await vi.waitFor(() => expect(ofType(receiver.events(), 'occupied')).toHaveLength(1), WAIT);
    // Each publication ended a poll and the client polled again: the linger bridged every gap.
    expect(ofType(receiver.events(), 'vacated')).toEqual([]);
    await poller.close();
    await vi.waitFor(() => expect(ofType(receiver.events(), 'vacated')).toHaveLength(1), WAIT);
    expect(ofType(receiver.events(), 'occupied')).toHaveLength(1);
  });

  it('sends a publish event with the stored publication for a client publication, none for a backend one', async () => {
    const { srv, receiver } = await setUp();
    const res = await clientPublish(srv, 'ada', 'room:chat', { text: 'hi' });
    expect(res.status).toBe(200);
    const stored = (await res.json()) as { epoch: string; offset: number };
    await srv.publish('room:chat', { text: 'from the backend' });
    await vi.waitFor(() => expect(ofType(receiver.events(), 'publish')).toHaveLength(1), WAIT);
    const [event] = ofType(receiver.events(), 'publish');
    expect(event).toMatchObject({ channel: 'room:chat', publication: { channel: 'room:chat', ...stored, data: { text: 'hi' }, publisher: { user: 'ada', info: { name: 'ADA' } } } });
  });
});

describe('reload', () => {
  it('applies a namespace change of events and proxy at once, and leaves the endpoint for a restart', async () => {
    const receiver = await WebhookReceiver.start();
    cleanups.push(() => receiver.close());
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-webhooks-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'hubbub.yaml');
    const write = (ns: string, url = `${receiver.url}/events`) => writeFile(file, `webhooks:\n  url: ${url}\nnamespaces:\n  room:\n    publish: authenticated\n${ns}`);
    await write('');
    const env = { HUBBUB_CONFIG: file, HUBBUB_TOKEN_SECRET: TOKEN_SECRET };
    const srv = await startServer(env);
    cleanups.push(() => srv.close());
    expect((await clientPublish(srv, 'ada', 'room:r', 'before')).status).toBe(200);
    await write(`    webhooks: [publish]\n    publishProxy: { url: "${receiver.url}/proxy" }\n`, `${receiver.url}/elsewhere`);
    receiver.respond = (req) => ({ status: 200, body: req.path === '/proxy' ? { result: { data: 'rewritten' } } : {} });
    const result = srv.app.reload(loadConfig({ env: { ...env, HUBBUB_API_KEY: TEST_API_KEY, HUBBUB_HOST: '127.0.0.1', HUBBUB_PORT: '0' }, previous: srv.app.config }));
    expect(result).toEqual({ applied: ['namespaces'], needsRestart: ['webhooks'] });
    expect((await clientPublish(srv, 'ada', 'room:r', 'after')).status).toBe(200);
    await vi.waitFor(() => expect(ofType(receiver.events(), 'publish').map((e) => e.publication.data)).toEqual(['rewritten']), WAIT);
    expect(receiver.requests.map((r) => r.path)).toEqual(['/proxy', '/events']);
  });
});

describe('delivery', () => {
  it('signs each request: the signature verifies with the secret and fails with another', async () => {
    const { srv, receiver } = await setUp();
    expect((await clientPublish(srv, 'ada', 'room:signed', 1)).status).toBe(200);
    await vi.waitFor(() => expect(receiver.requests).toHaveLength(1), WAIT);
    const [req] = receiver.requests;
    const header = String(req!.headers['hubbub-signature']);
    const { t, v1 } = Object.fromEntries(header.split(',').map((p) => p.split('='))) as { t: string; v1: string };
    const sign = (secret: string) => createHmac('sha256', secret).update(`${t}.${req!.body}`).digest('hex');
    expect(Math.abs(Date.now() / 1000 - Number(t))).toBeLessThan(60);
    expect(v1).toBe(sign(SECRET));
    expect(v1).not.toBe(sign('another-secret-0123456789abcdef'));
    expect(req!.headers['hubbub-delivery']).toBe(receiver.deliveries()[0]!.id);
  });

  it('retries while the receiver is down and delivers everything, in order, once it is back on the same port', async () => {
    const { srv, receiver } = await setUp();
    await receiver.close();
    for (let i = 0; i < 5; i++) expect((await clientPublish(srv, 'ada', 'room:order', i)).status).toBe(200);
    // Several failed attempts before the receiver returns: the retries are what deliver.
    await vi.waitFor(async () => expect((await scrape(srv.url, TEST_API_KEY)).value('hubbub_webhook_events_total', { event: 'publish', outcome: 'failed' })).toBeGreaterThanOrEqual(10), WAIT);
    await receiver.open();
    await vi.waitFor(() => expect(new Set(ofType(receiver.events(), 'publish').map((e) => e.id)).size).toBe(5), WAIT);
    const firstArrivals = [...new Map(ofType(receiver.events(), 'publish').map((e) => [e.id, e.publication.data])).values()];
    expect(firstArrivals).toEqual([0, 1, 2, 3, 4]);
    const metrics = await scrape(srv.url, TEST_API_KEY);
    expect(metrics.value('hubbub_webhook_events_total', { event: 'publish', outcome: 'sent' })).toBe(5);
    expect(metrics.value('hubbub_webhook_events_total', { event: 'publish', outcome: 'retried' })).toBeGreaterThanOrEqual(10);
    expect(metrics.value('hubbub_webhook_events_total', { event: 'publish', outcome: 'dropped' })).toBe(0);
    expect(srv.warnings.some((w) => w.includes('webhook delivery') && w.includes('failed'))).toBe(true);
  });

  it('keeps at most queueSize events while the receiver is down, dropping the oldest and counting them', async () => {
    const { srv, receiver } = await setUp('  queueSize: 3\n  batchSize: 1');
    await receiver.close();
    const total = 40;
    for (let i = 0; i < total; i++) expect((await clientPublish(srv, 'ada', 'room:flood', i)).status).toBe(200);
    const metrics = await scrape(srv.url, TEST_API_KEY);
    // One batch of one in flight, three queued: memory holds four events however many come.
    expect(metrics.value('hubbub_webhook_pending')).toBeLessThanOrEqual(4);
    const dropped = metrics.value('hubbub_webhook_events_total', { event: 'publish', outcome: 'dropped' });
    expect(dropped).toBeGreaterThanOrEqual(total - 4);
    await receiver.open();
    await vi.waitFor(async () => expect((await scrape(srv.url, TEST_API_KEY)).value('hubbub_webhook_pending')).toBe(0), WAIT);
    const delivered = [...new Set(ofType(receiver.events(), 'publish').map((e) => e.publication.data as number))];
    expect(delivered.length + dropped).toBe(total);
    // The newest three survived the drops.
    expect(delivered.slice(-3)).toEqual([total - 3, total - 2, total - 1]);
  });
});
