import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Publication } from '../contract/index.js';
import { type InProcessNode, freshPrefix, startNode } from './support/cluster.js';
import { NatsServer } from './support/nats-server.js';
import { type RawSession, TRANSPORT_NAMES, openSession } from './support/raw-clients.js';
import { startServer } from './support/server.js';
import { signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

// Event names (issue #10) through every door and every transport, on the memory backbone (one
// node) and on NATS (published on one node, received on another): live, from history, recovered.

const SECRET = 'events-test-token-secret-0123456789abcdef';
const CONFIG = `
namespaces:
  chat:
    subscribe: anyone
    publish: authenticated
`;
/** vi.waitFor's 1 s default is short for a loaded two-core machine running real servers. */
const SLOW = { timeout: 10_000 };

type Node = Pick<InProcessNode, 'url' | 'api' | 'close'>;
interface Nodes {
  /** Where backends and clients publish. */
  pub: Node;
  /** Where subscribers listen: another node on NATS. */
  sub: Node;
  close(): Promise<void>;
}

async function startNodes(backbone: 'memory' | 'nats'): Promise<Nodes> {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-events-'));
  const file = join(dir, 'hubbub.yaml');
  writeFileSync(file, CONFIG);
  const env = { HUBBUB_CONFIG: file, HUBBUB_TOKEN_SECRET: SECRET };
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  if (backbone === 'memory') {
    const srv = await startServer(env);
    return { pub: srv, sub: srv, close: async () => (await srv.close(), removeDir()) };
  }
  const nats = await NatsServer.start();
  const prefix = freshPrefix();
  const a = await startNode('a', [nats.url], prefix, env);
  const b = await startNode('b', [nats.url], prefix, env);
  return { pub: a, sub: b, close: async () => (await Promise.all([a.close(), b.close()]), await nats.close(), removeDir()) };
}

const post = (n: Node, path: string, body: unknown) => n.api(path, { method: 'POST', body: JSON.stringify(body) });
const named = (pubs: Publication[]) => pubs.map((p) => [p.data, p.event]);
let channelSeq = 0;
const fresh = () => `chat:ev${process.pid}-${++channelSeq}`;

describe.each(['memory', 'nats'] as const)('event names on the %s backbone', (backbone) => {
  let nodes: Nodes;
  let token: string;
  beforeAll(async () => {
    nodes = await startNodes(backbone);
    token = await signToken(SECRET, { sub: 'ada' }, { expiresIn: 600 });
  });
  afterAll(() => nodes?.close());

  it('reaches a WebSocket, an SSE and a long-poll subscriber with its event, and history returns it', async () => {
    const ch = fresh();
    const sessions = await Promise.all(TRANSPORT_NAMES.map((t) => openSession(t, nodes.sub.url, [ch])));
    try {
      expect((await post(nodes.pub, '/api/publish', { channel: ch, data: { id: 1 }, event: 'create' })).status).toBe(200);
      expect((await post(nodes.pub, '/api/publish', { channel: ch, data: { id: 2 } })).status).toBe(200);
      expect((await post(nodes.pub, '/api/publish', { channel: ch, data: { id: 1 }, event: 'tweet.destroy' })).status).toBe(200);
      const expected = [
        [{ id: 1 }, 'create'],
        [{ id: 2 }, undefined],
        [{ id: 1 }, 'tweet.destroy'],
      ];
      for (const s of sessions) await vi.waitFor(() => expect(named(s.publications)).toEqual(expected), SLOW);
      const history = (await (await nodes.sub.api(`/api/channels/${encodeURIComponent(ch)}/history`)).json()) as { publications: Publication[] };
      expect(named(history.publications)).toEqual(expected);
    } finally {
      await Promise.all(sessions.map((s) => s.close()));
    }
  });

  it.each(TRANSPORT_NAMES)('recovers missed publications with their events after a reconnect over %s', async (transport) => {
    const ch = fresh();
    const first: RawSession = await openSession(transport, nodes.sub.url, [ch]);
    await post(nodes.pub, '/api/publish', { channel: ch, data: 1, event: 'create' });
    await vi.waitFor(() => expect(first.publications).toHaveLength(1), SLOW);
    const seen = first.position(ch)!;
    await first.close();
    await post(nodes.pub, '/api/publish', { channel: ch, data: 2, event: 'update' });
    await post(nodes.pub, '/api/publish', { channel: ch, data: 3 });
    const again = await openSession(transport, nodes.sub.url, [ch], [seen]);
    try {
      expect(again.results[0]!.recovered).toBe(true);
      await vi.waitFor(() => expect(named(again.publications)).toEqual([[2, 'update'], [3, undefined]]), SLOW);
    } finally {
      await again.close();
    }
  });

  it('broadcast names the publication on every channel', async () => {
    const [c1, c2] = [fresh(), fresh()];
    const s = await openSession('websocket', nodes.sub.url, [c1, c2]);
    try {
      const res = await post(nodes.pub, '/api/broadcast', { channels: [c1, c2], data: 'x', event: 'notice' });
      expect(res.status).toBe(200);
      await vi.waitFor(() => expect(s.publications.map((p) => [p.channel, p.event]).sort()).toEqual([[c1, 'notice'], [c2, 'notice']]), SLOW);
    } finally {
      await s.close();
    }
  });

  it('client publishes carry the event: the WebSocket publish command and POST /publish', async () => {
    const ch = fresh();
    const s = await openSession('sse', nodes.sub.url, [ch]);
    const peer = await connectWs(nodes.pub.url.replace('http', 'ws') + '/ws', { headers: { authorization: `Bearer ${token}` } });
    try {
      peer.send({ id: 7, type: 'publish', channel: ch, data: 'from ws', event: 'say' });
      expect(await peer.next('published', (f) => f.id === 7)).toMatchObject({ channel: ch, offset: 1 });
      const res = await fetch(`${nodes.pub.url}/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: ch, data: 'from http', event: 'say.http' }),
      });
      expect(res.status).toBe(200);
      await vi.waitFor(() => expect(named(s.publications)).toEqual([['from ws', 'say'], ['from http', 'say.http']]), SLOW);
      expect(s.publications.map((p) => p.publisher?.user)).toEqual(['ada', 'ada']);
    } finally {
      await peer.close();
      await s.close();
    }
  });

  it('refuses a malformed event name at every door with the documented error, and every connection goes on', async () => {
    const ch = fresh();
    const s = await openSession('websocket', nodes.sub.url, [ch]);
    const peer = await connectWs(nodes.pub.url.replace('http', 'ws') + '/ws', { headers: { authorization: `Bearer ${token}` } });
    try {
      for (const event of ['', 'has space', 'x'.repeat(65), 'ünï', 'a/b', 42, null]) {
        for (const [path, body] of [
          ['/api/publish', { channel: ch, data: 1, event }],
          ['/api/broadcast', { channels: [ch], data: 1, event }],
        ] as const) {
          const res = await post(nodes.pub, path, body);
          expect([path, res.status, await res.json()]).toMatchObject([path, 400, { code: 'bad_request', issues: [{ path: 'body.event' }] }]);
        }
        const client = await fetch(`${nodes.pub.url}/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ channel: ch, data: 1, event }),
        });
        expect([client.status, await client.json()]).toMatchObject([400, { code: 'bad_request', issues: [{ path: 'body.event' }] }]);
      }
      const bad = await post(nodes.pub, '/api/publish', { channel: ch, data: 1, event: 'no spaces please' });
      expect(((await bad.json()) as { issues: Array<{ message: string }> }).issues[0]!.message).toBe(
        'invalid event name (1 to 64 characters of A-Z a-z 0-9 _ . : -)',
      );
      peer.send({ id: 3, type: 'publish', channel: ch, data: 1, event: 'no spaces' });
      expect(await peer.next('error', (f) => f.id === 3)).toMatchObject({ code: 'invalid_frame', issues: [{ path: 'frame.event' }] });
      // The same socket publishes on; nothing refused was stored.
      peer.send({ id: 4, type: 'publish', channel: ch, data: 'ok', event: 'x'.repeat(64) });
      expect(await peer.next('published', (f) => f.id === 4)).toMatchObject({ offset: 1 });
      await vi.waitFor(() => expect(named(s.publications)).toEqual([['ok', 'x'.repeat(64)]]), SLOW);
    } finally {
      await peer.close();
      await s.close();
    }
  });
});

describe('frames of a publication without an event', () => {
  it('are byte for byte those of a server without events on every transport, and name the event after time when it has one', async () => {
    await using srv = await startServer();
    const ch = 'frames:bytes';
    const peer = await connectWs(srv.wsUrl);
    const wsText: string[] = [];
    peer.ws.on('message', (raw) => wsText.push(raw.toString()));
    peer.send({ id: 1, type: 'subscribe', channel: ch });
    await peer.next('subscribed');
    const sse = await fetch(`${srv.url}/sse?channels=${ch}`);
    const sseText = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
    let sseSeen = '';
    const plain = await srv.publish(ch, { a: [1, 'b'] });
    const withEvent = await srv.publish(ch, null, { event: 'create', tags: { t: '1' } });
    await vi.waitFor(() => expect(wsText.filter((t) => t.includes('"publication"'))).toHaveLength(2), SLOW);
    const times = wsText.filter((t) => t.includes('"publication"')).map((t) => (JSON.parse(t) as { time: number }).time);
    const bare = `{"channel":"${ch}","offset":1,"epoch":"${plain.epoch}","data":{"a":[1,"b"]},"time":${times[0]}}`;
    const evented = `{"channel":"${ch}","offset":2,"epoch":"${withEvent.epoch}","data":null,"time":${times[1]},"event":"create","tags":{"t":"1"}}`;
    expect(wsText.filter((t) => t.includes('"publication"'))).toEqual([`{"type":"publication",${bare.slice(1)}`, `{"type":"publication",${evented.slice(1)}`]);
    while (!sseSeen.includes('"offset":2')) sseSeen += (await sseText.read()).value ?? '';
    await sseText.cancel();
    // SSE: the event name stays in the JSON data; the SSE event type is `publication` for every publication.
    expect(sseSeen).toContain(`id: ${plain.epoch}:1\nevent: publication\ndata: ${bare}\n\n`);
    expect(sseSeen).toContain(`id: ${withEvent.epoch}:2\nevent: publication\ndata: ${evented}\n\n`);
    const poll = await (await fetch(`${srv.url}/poll?channels=${ch}&cursor=${plain.epoch}:0&timeout=0`)).text();
    expect(poll).toContain(`"publications":[${bare},${evented}]`);
    const history = await (await srv.api(`/api/channels/${ch}/history`)).text();
    expect(history).toContain(`"publications":[${bare},${evented}]`);
    await peer.close();
  });
});
