import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SSE_EVENTS } from '../contract/index.js';
import { type Exposition, scrape } from './support/exposition.js';
import { openSession, pollOnce } from './support/raw-clients.js';
import { TEST_API_KEY, type TestServer, startServer } from './support/server.js';
import { TOKEN_SECRET } from './support/secured.js';
import { signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

// GET /metrics on a real node: each count moves by exactly what real clients did over each
// transport (deliveries and their bytes, recoveries, refusals, disconnects), read back from the
// Prometheus text format.

const CHANNEL = 'metrics-a';

describe('metrics', () => {
  let srv: TestServer;
  const metrics = () => scrape(srv.url, TEST_API_KEY);
  /** How much each sample moved between two scrapes. */
  const moved = (before: Exposition, after: Exposition, name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);

  beforeAll(async () => {
    srv = await startServer({ HUBBUB_TOKEN_SECRET: TOKEN_SECRET, HUBBUB_MAX_MESSAGE_BYTES: '1024', HUBBUB_LIMIT_COMMANDS: '1', HUBBUB_CONNECT_TIMEOUT: '1' });
  });
  afterAll(() => srv?.close());

  it('counts one delivery per transport with the bytes of its frame, connections and subscriptions while they are open', async () => {
    const before = await metrics();
    const ws = await openSession('websocket', srv.url, [CHANNEL]);
    const sse = await openSession('sse', srv.url, [CHANNEL]);
    const first = await pollOnce(srv.url, [CHANNEL], undefined);
    const waiting = pollOnce(srv.url, [CHANNEL], first.cursor);
    await vi.waitFor(async () => {
      const m = await metrics();
      expect(['websocket', 'sse', 'poll'].map((transport) => m.value('hubbub_connections', { transport }))).toEqual([1, 1, 1]);
      expect(m.value('hubbub_subscriptions')).toBe(3);
      expect(m.value('hubbub_channels')).toBe(1);
    });
    await srv.publish(CHANNEL, { hello: 'metrics' });
    const polled = await waiting;
    await vi.waitFor(() => expect([ws.publications.length, sse.publications.length]).toEqual([1, 1]));
    const after = await metrics();

    // The frames as the server encodes them, from the publication as stored (history keeps its key order).
    const history = (await (await srv.api(`/api/channels/${CHANNEL}/history`)).json()) as { publications: unknown[] };
    const pub = history.publications[0] as { epoch: string; offset: number };
    const json = JSON.stringify(pub);
    const frameBytes = {
      websocket: Buffer.byteLength(JSON.stringify({ type: 'publication', ...pub })),
      sse: Buffer.byteLength(`id: ${pub.epoch}:${pub.offset}\nevent: ${SSE_EVENTS.publication}\ndata: ${json}\n\n`),
      poll: Buffer.byteLength(json),
    };
    expect(polled.publications).toHaveLength(1);
    for (const transport of ['websocket', 'sse', 'poll'] as const) {
      expect(moved(before, after, 'hubbub_deliveries_total', { transport }), transport).toBe(1);
      expect(moved(before, after, 'hubbub_delivered_bytes_total', { transport }), transport).toBe(frameBytes[transport]);
    }
    // The waiting poll carried a cursor: a recovery without a gap. The streams subscribed from now.
    expect(moved(before, after, 'hubbub_recoveries_total', { transport: 'poll', recovered: 'true' })).toBe(1);
    expect(moved(before, after, 'hubbub_recoveries_total', { transport: 'websocket', recovered: 'true' })).toBe(0);
    expect(moved(before, after, 'hubbub_publications_accepted_total')).toBe(1);
    expect(moved(before, after, 'hubbub_broker_publish_seconds_count', { broker: 'memory', outcome: 'ok' })).toBe(1);
    expect(moved(before, after, 'hubbub_broker_history_seconds_count', { broker: 'memory', outcome: 'ok' })).toBe(0);

    await Promise.all([ws.close(), sse.close()]);
    await vi.waitFor(async () => {
      const m = await metrics();
      expect(['websocket', 'sse', 'poll'].map((transport) => m.value('hubbub_connections', { transport }))).toEqual([0, 0, 0]);
      expect(m.value('hubbub_subscriptions')).toBe(0);
    });
    const read = await metrics();
    await srv.api(`/api/channels/${CHANNEL}/history`);
    expect(moved(read, await metrics(), 'hubbub_broker_history_seconds_count', { broker: 'memory', outcome: 'ok' })).toBe(1);
  });

  it('counts recoveries with and without a gap, by transport', async () => {
    const head = await srv.publish(CHANNEL, { n: 1 });
    const before = await metrics();
    const recovered = await openSession('websocket', srv.url, [CHANNEL], [{ epoch: head.epoch, offset: head.offset - 1 }]);
    // A position past the channel's end cannot be continued: the client is told it missed something.
    const missed = await openSession('sse', srv.url, [CHANNEL], [{ epoch: head.epoch, offset: head.offset + 50 }]);
    expect(recovered.results[0]!.recovered).toBe(true);
    expect(missed.results[0]!.recovered).toBe(false);
    await vi.waitFor(() => expect(recovered.publications).toHaveLength(1));
    const after = await metrics();
    expect(moved(before, after, 'hubbub_recoveries_total', { transport: 'websocket', recovered: 'true' })).toBe(1);
    expect(moved(before, after, 'hubbub_recoveries_total', { transport: 'sse', recovered: 'false' })).toBe(1);
    expect(moved(before, after, 'hubbub_recoveries_total', { transport: 'sse', recovered: 'true' })).toBe(0);
    // The backlog of one went to the recovering connection only.
    expect(moved(before, after, 'hubbub_deliveries_total', { transport: 'websocket' })).toBe(1);
    await Promise.all([recovered.close(), missed.close()]);
  });

  it('counts refused publications by code, refused credentials by reason', async () => {
    const before = await metrics();
    const tooBig = await srv.api('/api/publish', { method: 'POST', body: JSON.stringify({ channel: CHANNEL, data: 'x'.repeat(2000) }) });
    expect(tooBig.status).toBe(413);
    const wrongKey = await fetch(`${srv.url}/api/info`, { headers: { authorization: 'Bearer not-the-key-0123456789' } });
    expect(wrongKey.status).toBe(401);
    const badToken = await fetch(`${srv.url}/sse?channels=${CHANNEL}&token=not-a-token`);
    expect(((await badToken.json()) as { code: string }).code).toBe('token_invalid');
    const expired = await signToken(TOKEN_SECRET, { sub: 'ann' }, { expiresIn: -3600 });
    const late = await fetch(`${srv.url}/poll?channels=${CHANNEL}&token=${expired}`);
    expect(((await late.json()) as { code: string }).code).toBe('token_expired');
    const after = await metrics();
    expect(moved(before, after, 'hubbub_publications_refused_total', { code: 'payload_too_large' })).toBe(1);
    expect(moved(before, after, 'hubbub_publications_accepted_total')).toBe(0);
    expect(moved(before, after, 'hubbub_auth_failures_total', { reason: 'api_key' })).toBe(1);
    expect(moved(before, after, 'hubbub_auth_failures_total', { reason: 'token_invalid' })).toBe(1);
    expect(moved(before, after, 'hubbub_auth_failures_total', { reason: 'token_expired' })).toBe(1);
  });

  it('counts each command the rate limit refuses, and the disconnect that ends a flood', async () => {
    const before = await metrics();
    const peer = await connectWs(srv.wsUrl);
    for (let id = 1; id <= 80; id++) peer.send({ id, type: 'unsubscribe', channel: CHANNEL });
    expect(await peer.closeCode).toBe(4006);
    const refusedReplies = peer.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited').length;
    expect(refusedReplies).toBeGreaterThan(0);
    const after = await metrics();
    // Each refusal answered, and the one past the limit that closed the connection instead.
    expect(moved(before, after, 'hubbub_rate_limited_total', { limit: 'commands' })).toBe(refusedReplies + 1);
    expect(moved(before, after, 'hubbub_disconnects_total', { transport: 'websocket', reason: 'rate_limited', code: '4006' })).toBe(1);
  });

  it('counts a connection the server closes for silence by its disconnect reason', async () => {
    const before = await metrics();
    const silent = await connectWs(srv.wsUrl);
    expect(await silent.closeCode).toBe(4005);
    const after = await metrics();
    expect(moved(before, after, 'hubbub_disconnects_total', { transport: 'websocket', reason: 'connect_timeout', code: '4005' })).toBe(1);
    expect(moved(before, after, 'hubbub_disconnects_total', { transport: 'websocket', reason: 'rate_limited' })).toBe(0);
  });

  it('exports the process metrics (event-loop lag, heap, GC) and this node as info', async () => {
    const m = await metrics();
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds', 'process_cpu_seconds_total']) {
      expect(m.types.has(name), name).toBe(true);
    }
    expect(m.value('hubbub_node_info', { node: srv.config.nodeId, broker: 'memory' })).toBe(1);
    expect(m.value('hubbub_cluster_nodes')).toBe(1);
    expect(m.value('hubbub_broker_connected', { broker: 'memory' })).toBe(1);
  });
});
