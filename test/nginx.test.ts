import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Hubbub } from '../client/index.js';
import { InfoResponse, type Publication } from '../contract/index.js';
import { SETTINGS } from '../server/settings.js';
import { type NodeProcess, freshPrefix, spawnNode } from './support/cluster.js';
import { WAIT, openSseStream } from './support/cluster-clients.js';
import { type ClientSubscriber, fetchHistory, resubscriptions, subscribeClient } from './support/faults.js';
import { NatsServer } from './support/nats-server.js';
import { type Nginx, SHIPPED_CONF, forTest, startNginx } from './support/nginx.js';
import { TRANSPORT_NAMES, openSession, pollOnce } from './support/raw-clients.js';
import { TEST_API_KEY, startServer } from './support/server.js';
import { maxSeconds, readTimeouts } from './support/nginx-conf.js';

// docs/deploy/nginx.conf, run by Debian's nginx in front of three nodes on one nats-server: every
// transport through it, round robin, traffic between nodes, and a node killed behind it. A plain
// proxy_pass loses WebSocket without an error (the client falls back to SSE), so the WebSocket
// tests check the transport that was really used.

const SHIPPED = readFileSync(SHIPPED_CONF, 'utf8');

describe('docs/deploy/nginx.conf, read', () => {
  it('the test replaces only the three node addresses and the listen port', () => {
    const local = forTest(SHIPPED, ['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3'], 9);
    const a = SHIPPED.split('\n');
    const b = local.split('\n');
    expect(b).toHaveLength(a.length);
    expect(a.flatMap((line, i) => (line === b[i] ? [] : [[line.trim(), b[i]!.trim()]]))).toEqual([
      ['server hubbub1:8080;', 'server 127.0.0.1:1;'],
      ['server hubbub2:8080;', 'server 127.0.0.1:2;'],
      ['server hubbub3:8080;', 'server 127.0.0.1:3;'],
      ['listen 80;', 'listen 127.0.0.1:9;'],
    ]);
    expect(() => forTest(SHIPPED.replace('listen 80;', 'listen 8080;'), ['a:1', 'b:2', 'c:3'], 9)).toThrow(/may replace only/);
  });

  it('long-poll waits longer than the longest --poll-timeout; SSE and WebSocket longer than the longest --ping-interval', () => {
    // nginx's default proxy_read_timeout is 60 s: below what --poll-timeout accepts (the reason for the setting).
    const timeouts = readTimeouts(SHIPPED);
    expect(maxSeconds(SETTINGS.pollTimeout.schema)).toBeGreaterThan(60);
    expect(timeouts['/poll']).toBeGreaterThan(maxSeconds(SETTINGS.pollTimeout.schema));
    expect(timeouts['/sse']).toBeGreaterThan(maxSeconds(SETTINGS.pingInterval.schema));
    expect(timeouts['/ws']).toBeGreaterThan(maxSeconds(SETTINGS.pingInterval.schema));
  });
});

describe('through nginx, in front of three nodes on NATS', () => {
  let nats: NatsServer;
  let nodes: NodeProcess[] = [];
  let nginx: Nginx;
  const closers: Array<() => Promise<unknown>> = [];
  const api = (path: string, init: RequestInit = {}) =>
    fetch(nginx.url + path, { ...init, headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' } });
  const publish = async (channel: string, data: unknown) => {
    const res = await api('/api/publish', { method: 'POST', body: JSON.stringify({ channel, data }) });
    if (res.status !== 200) throw new Error(`publish through nginx: ${res.status} ${await res.text()}`);
    return (await res.json()) as { offset: number };
  };
  const track = <T extends { close(): unknown }>(c: T): T => {
    closers.push(async () => c.close());
    return c;
  };

  beforeAll(async () => {
    nats = await NatsServer.start();
    const prefix = freshPrefix();
    nodes = await Promise.all(['n1', 'n2', 'n3'].map((id) => spawnNode(id, [nats.url], prefix, { HUBBUB_TRUSTED_PROXIES: '127.0.0.1' })));
    nginx = await startNginx(nodes.map((n) => n.url));
  }, 60_000);

  // Each test's clients go at its end: leftover polls would take turns in nginx's round robin.
  afterEach(async () => {
    await Promise.allSettled(closers.splice(0).map((c) => c()));
  });

  // Settled one by one: a failing close must not leave nginx, a node or nats-server running.
  afterAll(async () => {
    await Promise.allSettled([nginx?.close(), ...nodes.map((n) => n.kill9())]);
    await nats?.close();
  });

  it('round robin: /api/info through nginx is answered by all three nodes', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(InfoResponse.parse(await (await api('/api/info')).json()).node);
    expect([...new Set(seen)].sort()).toEqual(['n1', 'n2', 'n3']);
  });

  it('WebSocket: the upgrade through nginx answers 101 and the node\'s connected frame', async () => {
    // As a browser page served through nginx: Hubbub's same-origin check needs the Host nginx forwards to keep the port.
    const raw = track(new WebSocket(nginx.url.replace('http', 'ws') + '/ws', { origin: nginx.url }));
    // A refused upgrade also ends in an 'error' event; the status asserted below says what happened.
    raw.on('error', () => undefined);
    const upgrade = new Promise<number | undefined>((resolve) => {
      raw.once('upgrade', (res) => resolve(res.statusCode));
      // A proxy that drops Upgrade gets Hubbub's 426: report the status instead of hanging.
      raw.once('unexpected-response', (req, res) => {
        resolve(res.statusCode);
        req.destroy();
      });
    });
    const connected = new Promise<unknown>((resolve) => raw.once('message', (m) => resolve(JSON.parse(m.toString()))));
    expect(await upgrade).toBe(101);
    expect(await connected).toMatchObject({ type: 'connected', node: expect.stringMatching(/^n[123]$/) });
  });

  it('WebSocket: the client library with default options connects over WebSocket through nginx, not over a fallback', async () => {
    // Default options: the client tries WebSocket first and would fall back to SSE without a word.
    const hub = track(new Hubbub(nginx.url, { WebSocket }));
    const transports: string[] = [];
    hub.on('connected', (info) => transports.push(info.transport));
    const got: Publication[] = [];
    let subscribed = false;
    hub.subscribe('nginx-ws', { onPublication: (p) => got.push(p), onState: (s) => (subscribed ||= s.state === 'subscribed') });
    await vi.waitFor(() => expect(subscribed).toBe(true), WAIT);
    await publish('nginx-ws', 'over websocket');
    await vi.waitFor(() => expect(got.map((p) => p.data)).toEqual(['over websocket']), WAIT);
    expect(transports).toEqual(['websocket']);
  });

  it('SSE: a publication arrives through nginx while the stream stays open', async () => {
    const stream = track(await openSseStream(nginx.url, ['nginx-sse']));
    let ended = false;
    void stream.ended.then(() => (ended = true));
    await publish('nginx-sse', 'over sse');
    await vi.waitFor(() => expect(stream.publications.map((p) => p.data)).toEqual(['over sse']), WAIT);
    expect(ended).toBe(false);
  });

  it('long-poll: a waiting poll through nginx returns the publication', async () => {
    const first = await pollOnce(nginx.url, ['nginx-poll'], undefined);
    expect(first.subscriptions.map((s) => s.channel)).toEqual(['nginx-poll']);
    const waiting = pollOnce(nginx.url, ['nginx-poll'], first.cursor);
    await publish('nginx-poll', 'over poll');
    expect((await waiting).publications.map((p) => p.data)).toEqual(['over poll']);
  });

  it('every transport of the client library receives through nginx', async () => {
    const subs = TRANSPORT_NAMES.map((t) => track(subscribeClient(nginx.url, t, 'nginx-lib')));
    await vi.waitFor(() => subs.forEach((s) => expect(s.states.map((e) => e.state), s.name).toContain('subscribed')), WAIT);
    await publish('nginx-lib', 1);
    await publish('nginx-lib', 2);
    await vi.waitFor(() => subs.forEach((s) => expect(s.publications.map((p) => p.data), s.name).toEqual([1, 2])), WAIT);
  });

  it('a publication made through nginx on one node reaches subscribers on the other two', async () => {
    const direct = await Promise.all(nodes.map(async (n) => track(await openSession('websocket', n.url, ['nginx-spread']))));
    await publish('nginx-spread', 'spread');
    const served = (await nginx.accessLog()).filter((l) => l.includes('POST /api/publish')).at(-1)!;
    // The access log names the node nginx gave the publish to; the sessions on the other two must get it.
    const by = nodes.findIndex((n) => served.split(' ')[1] === n.url.replace('http://', ''));
    const others = direct.filter((_, i) => i !== by);
    expect(others).toHaveLength(2);
    await vi.waitFor(() => others.forEach((s) => expect(s.publications.map((p) => p.data)).toEqual(['spread'])), WAIT);
  });

  it('a node killed behind nginx: its WebSocket and SSE clients reconnect through nginx to another node and recover everything', async () => {
    const CHANNEL = 'nginx-kill';
    const ws = track(subscribeClient(nginx.url, 'websocket', CHANNEL));
    await vi.waitFor(() => expect(ws.connections).toHaveLength(1), WAIT);
    const victim = nodes.find((n) => n.id === ws.connections[0])!;
    // Round robin spreads new streams over the nodes: open SSE clients until one lands on the victim.
    let sse: ClientSubscriber | undefined;
    for (let i = 0; i < 6 && !sse; i++) {
      const s = track(subscribeClient(nginx.url, 'sse', CHANNEL));
      await vi.waitFor(() => expect(s.connections).toHaveLength(1), WAIT);
      if (s.connections[0] === victim.id) sse = s;
    }
    expect(sse, `an SSE stream on ${victim.id}`).toBeDefined();
    const poll = track(subscribeClient(nginx.url, 'poll', CHANNEL));
    const clients = [ws, sse!, poll];
    await vi.waitFor(() => clients.forEach((c) => expect(c.states.map((e) => e.state), c.name).toContain('subscribed')), WAIT);

    for (let i = 0; i < 10; i++) await publish(CHANNEL, { seq: i });
    await victim.kill9();
    // Publishes keep going through nginx: a refused connection is passed to the next node.
    for (let i = 10; i < 20; i++) await publish(CHANNEL, { seq: i });

    const survivor = nodes.find((n) => n !== victim)!;
    const history = (await fetchHistory(survivor, CHANNEL)).publications.map((p) => p.data);
    expect(history).toEqual(Array.from({ length: 20 }, (_, seq) => ({ seq })));
    await vi.waitFor(() => clients.forEach((c) => expect(c.publications.map((p) => p.data), c.name).toEqual(history)), { timeout: 20_000 });
    for (const c of [ws, sse!]) {
      const { reconnects, recovered } = resubscriptions(c.states);
      expect(reconnects, `${c.name} reconnected`).toBeGreaterThan(0);
      expect(recovered.length, `${c.name} subscribed again`).toBeGreaterThan(0);
      expect(recovered.every(Boolean), `${c.name} recovered`).toBe(true);
      expect(c.connections.slice(1).filter((n) => n === victim.id)).toEqual([]);
    }
    expect(poll.errors).toEqual([]);
  }, 60_000);
});

describe('X-Forwarded-For through nginx, with --trusted-proxies naming nginx', () => {
  // Clients connect to nginx from other loopback addresses (127.0.0.2, .3) than nginx's own
  // (127.0.0.1, the trusted proxy), so the node can only tell them apart by what nginx appends.
  it('a node counts clients by the address nginx saw, not by an X-Forwarded-For the client wrote', async () => {
    await using node = await startServer({ HUBBUB_TRUSTED_PROXIES: '127.0.0.1', HUBBUB_LIMIT_CONNECTIONS_PER_IP: '1' });
    await using proxy = await startNginx([node.url, node.url, node.url]);
    const sockets: WebSocket[] = [];
    const open = (localAddress: string, forwardedFor?: string) =>
      new Promise<number | undefined>((resolve) => {
        const ws = new WebSocket(proxy.url.replace('http', 'ws') + '/ws', {
          localAddress,
          headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
        });
        sockets.push(ws);
        ws.on('error', () => undefined);
        ws.once('upgrade', (res) => resolve(res.statusCode));
        ws.once('unexpected-response', (req, res) => {
          resolve(res.statusCode);
          req.destroy();
        });
      });
    try {
      expect(await open('127.0.0.2', '203.0.113.1')).toBe(101);
      // The same client under another made-up address: still its one connection.
      expect(await open('127.0.0.2', '203.0.113.9')).toBe(429);
      expect(await open('127.0.0.3')).toBe(101);
    } finally {
      for (const ws of sockets) ws.terminate();
    }
  });
});
