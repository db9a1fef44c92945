import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { InfoResponse, PresenceResponse, type Publication } from '../contract/index.js';
import { isEmptyEpoch } from '../contract/empty-epoch.js';
import { startBalancer } from './support/balancer.js';
import { type InProcessNode, type TestNode, startCluster } from './support/cluster.js';
import {
  type LibClient,
  WAIT,
  delivered,
  expected,
  hitsSince,
  libClient,
  openSseStream,
  publishSpread,
  recoveries,
  steer,
  untilSubscribed,
} from './support/cluster-clients.js';
import { TRANSPORT_NAMES, type TransportName, openSession, pollOnce } from './support/raw-clients.js';
import { type RawWs, connectWs } from './support/ws-client.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const wsUrl = (base: string) => base.replace('http', 'ws') + '/ws';
const wsPublications = (ws: RawWs): Publication[] => ws.frames.flatMap((f) => (f.type === 'publication' ? [f] : []));

async function liveNodes(node: TestNode): Promise<string[]> {
  return InfoResponse.parse(await (await node.api('/api/info')).json()).nodes.map((n) => n.node);
}

async function presence(node: TestNode, channel: string): Promise<Array<{ node: string; transport: string }>> {
  const body = PresenceResponse.parse(await (await node.api(`/api/channels/${channel}/presence`)).json());
  return body.clients.map((c) => ({ node: c.node, transport: c.transport })).sort((a, b) => a.node.localeCompare(b.node) || a.transport.localeCompare(b.transport));
}

describe('three nodes on one NATS: fan-out', () => {
  it('delivers 60 publications made on any node, some at once, to every transport on every node, all in one order', async () => {
    await using cluster = await startCluster(3);
    const nodes = cluster.nodes;
    const sessions = await Promise.all(
      nodes.flatMap((n) => TRANSPORT_NAMES.map(async (t) => ({ label: `${t} on ${n.id}`, s: await openSession(t, n.url, ['fanout']) }))),
    );

    // One by one first, then bursts of six racing from all three nodes for the next offsets.
    const published = [...(await publishSpread(nodes, 'fanout', 24)), ...(await publishSpread(nodes, 'fanout', 36, { burst: 6, first: 24 }))];
    published.sort((a, b) => a.offset - b.offset);
    expect(published.map((p) => p.offset)).toEqual(range(1, 60));

    for (const { label, s } of sessions) {
      await vi.waitFor(() => expect(s.publications.length, label).toBeGreaterThanOrEqual(60), WAIT);
    }
    for (const { label, s } of sessions) expect(delivered(s.publications), label).toEqual(expected(published));
    expect(new Set(sessions.flatMap(({ s }) => s.publications.map((p) => p.epoch))).size).toBe(1);
    await Promise.all(sessions.map(({ s }) => s.close()));
  });

  it('keeps the position of an empty channel valid on every node while another node stores its first publication', async () => {
    await using cluster = await startCluster(3);
    const [n1, n2, n3] = cluster.nodes as [InProcessNode, InProcessNode, InProcessNode];
    for (let i = 0; i < 8; i++) {
      const channel = `fresh-${i}`;
      const { cursor, subscriptions } = await pollOnce(n2.url, [channel], undefined);
      const { epoch } = subscriptions[0]!;
      expect(isEmptyEpoch(epoch)).toBe(true);
      expect(cursor).toBe(`${epoch}:0`);
      // Subscribers resume from the empty position on other nodes while n1 stores the first publication.
      let stored = false;
      const publishing = n1.publish(channel, 'first').finally(() => (stored = true));
      const resumes = await Promise.all(
        [n2, n3].map(async (n) => {
          const out = [await pollOnce(n.url, [channel], cursor, undefined, 0)];
          while (!stored) out.push(await pollOnce(n.url, [channel], cursor, undefined, 0));
          return out;
        }),
      );
      const first = await publishing;
      expect(first.offset).toBe(1);
      expect(isEmptyEpoch(first.epoch)).toBe(false);
      for (const r of resumes.flat()) {
        expect(r.subscriptions, `${channel}: resumed from ${cursor}`).toEqual([{ channel, epoch, offset: 0, recovered: true }]);
      }
      // Once it is stored, every node carries the empty position into the first generation.
      for (const n of [n2, n3]) {
        const after = await pollOnce(n.url, [channel], cursor, undefined, 0);
        expect([after.subscriptions[0]!.recovered, after.cursor], `${channel} on ${n.id}`).toEqual([true, `${first.epoch}:1`]);
      }
    }
  });
});

describe('no sticky sessions: a round-robin balancer in front of three nodes', () => {
  it('sends consecutive long-polls to different nodes and loses nothing', async () => {
    await using cluster = await startCluster(3);
    await using lb = await startBalancer(cluster.nodes.map((n) => n.url));
    const before = [...lb.hits];
    const s = await openSession('poll', lb.url, ['lp']);
    const published = [];
    // One at a time: each publication answers a poll, and the next poll goes to the next node.
    for (let i = 0; i < 12; i++) {
      published.push(...(await publishSpread(cluster.nodes, 'lp', 1, { first: i })));
      await vi.waitFor(() => expect(s.publications.length).toBeGreaterThanOrEqual(i + 1), WAIT);
    }
    await s.close();
    expect(delivered(s.publications)).toEqual(expected(published));
    expect(s.results.map((r) => r.recovered)).toEqual([false]);
    // At least 13 requests (the first poll, then one per publication), dealt out in turn.
    for (const hits of hitsSince(lb, before)) expect(hits).toBeGreaterThanOrEqual(4);
  });

  it('resumes an SSE stream on another node from Last-Event-ID: recovered, nothing lost, nothing twice', async () => {
    await using cluster = await startCluster(3);
    await using lb = await startBalancer(cluster.nodes.map((n) => n.url));
    const nodes = cluster.nodes;
    const channels = ['sse-a', 'sse-b'];
    const first = await openSseStream(lb.url, channels);
    const seen = [...(await publishSpread(nodes, 'sse-a', 3)), ...(await publishSpread(nodes, 'sse-b', 3, { first: 1 }))];
    await vi.waitFor(() => expect(first.publications).toHaveLength(6), WAIT);
    const lastEventId = first.lastEventId;
    await first.close();

    const missed = [...(await publishSpread(nodes, 'sse-a', 2, { first: 3 })), ...(await publishSpread(nodes, 'sse-b', 2, { first: 4 }))];
    const second = await openSseStream(lb.url, channels, { lastEventId });
    expect(second.node).not.toBe(first.node);
    expect(second.results).toEqual(
      channels.map((channel) => ({ channel, epoch: first.position(channel)!.epoch, offset: 3, recovered: true })),
    );
    const live = [...(await publishSpread(nodes, 'sse-a', 1, { first: 5 })), ...(await publishSpread(nodes, 'sse-b', 1, { first: 6 }))];
    await vi.waitFor(() => expect(second.publications.length).toBeGreaterThanOrEqual(6), WAIT);
    await second.close();

    const all = [...seen, ...missed, ...live];
    for (const channel of channels) {
      const want = expected(all.filter((p) => p.data.startsWith(`${channel}#`)).sort((a, b) => a.offset - b.offset));
      expect(delivered([...first.publications, ...second.publications], channel), channel).toEqual(want);
    }
  });

  it('recovers a WebSocket subscription on another node with since', async () => {
    await using cluster = await startCluster(3);
    await using lb = await startBalancer(cluster.nodes.map((n) => n.url));
    const nodes = cluster.nodes;
    const a = await connectWs(wsUrl(lb.url));
    const nodeA = (await a.next('connected')).node;
    a.send({ id: 1, type: 'subscribe', channel: 'ws-r' });
    expect(isEmptyEpoch((await a.next('subscribed')).epoch)).toBe(true);
    const seen = await publishSpread(nodes, 'ws-r', 3);
    await vi.waitFor(() => expect(wsPublications(a)).toHaveLength(3), WAIT);
    // The channel was empty when a subscribed: its generation's epoch comes with the publications.
    const { epoch } = wsPublications(a)[2]!;
    await a.close();

    const missed = await publishSpread(nodes, 'ws-r', 3, { first: 3 });
    const b = await connectWs(wsUrl(lb.url));
    expect((await b.next('connected')).node).not.toBe(nodeA);
    b.send({ id: 1, type: 'subscribe', channel: 'ws-r', since: { epoch, offset: 3 } });
    expect(await b.next('subscribed')).toEqual({ id: 1, type: 'subscribed', channel: 'ws-r', epoch, offset: 3, recovered: true });
    const live = await publishSpread(nodes, 'ws-r', 2, { first: 6 });
    await vi.waitFor(() => expect(wsPublications(b).length).toBeGreaterThanOrEqual(5), WAIT);
    await b.close();
    expect(delivered([...wsPublications(a), ...wsPublications(b)])).toEqual(expected([...seen, ...missed, ...live]));
  });

  describe.each(TRANSPORT_NAMES)('the client library over %s', (transport) => {
    it('receives everything in order while the balancer spreads its connections over the nodes', async () => {
      await using cluster = await startCluster(3);
      await using lb = await startBalancer(cluster.nodes.map((n) => n.url));
      const nodes = cluster.nodes;
      const before = [...lb.hits];
      const clients = [0, 1, 2].map(() => libClient(lb.url, transport, ['lib-a']));
      try {
        for (const c of clients) await untilSubscribed(c, 'lib-a');
        const a1 = await publishSpread(nodes, 'lib-a', 15, { burst: 3 });
        // A second channel while lib-a keeps going: SSE restarts its stream and poll its request,
        // each on the next node, resuming lib-a from the client's own position.
        const publishingA2 = publishSpread(nodes, 'lib-a', 15, { burst: 3, first: 15 });
        for (const c of clients) c.subscribe('lib-b');
        for (const c of clients) await untilSubscribed(c, 'lib-b');
        const [a2, b] = await Promise.all([publishingA2, publishSpread(nodes, 'lib-b', 15, { burst: 3, first: 1 })]);
        for (const [i, c] of clients.entries()) {
          await vi.waitFor(() => {
            expect(c.received.get('lib-a')!.length, `client ${i} lib-a`).toBeGreaterThanOrEqual(30);
            expect(c.received.get('lib-b')!.length, `client ${i} lib-b`).toBeGreaterThanOrEqual(15);
          }, WAIT);
          expect(delivered(c.received.get('lib-a')!), `client ${i}`).toEqual(expected([...a1, ...a2]));
          expect(delivered(c.received.get('lib-b')!), `client ${i}`).toEqual(expected(b));
          // Only the very first subscribe of a channel may start "from now"; every later one resumes.
          expect(recoveries(c, 'lib-a').slice(1), `client ${i}`).not.toContain(false);
          expect(c.connections.every((k) => k.transport === transport)).toBe(true);
        }
        for (const hits of hitsSince(lb, before)) expect(hits).toBeGreaterThanOrEqual(1);
        if (transport === 'websocket') expect(clients.map((c) => c.connections[0]!.node).sort()).toEqual(['n1', 'n2', 'n3']);
      } finally {
        for (const c of clients) c.close();
      }
    });
  });
});

describe('presence and membership across nodes', () => {
  it('lists the subscribers of every node, with node and transport, from any node, as soon as the nodes are up', async () => {
    await using cluster = await startCluster(3);
    const [n1, n2, n3] = cluster.nodes as [InProcessNode, InProcessNode, InProcessNode];
    const ws1 = await openSession('websocket', n1.url, ['room']);
    const sse2 = await openSseStream(n2.url, ['room']);
    const ws3 = await openSession('websocket', n3.url, ['room']);
    const everyone = [
      { node: 'n1', transport: 'websocket' },
      { node: 'n2', transport: 'sse' },
      { node: 'n3', transport: 'websocket' },
    ];
    // Well under the 5 s heartbeat: a node that just started must already know the others.
    const fresh = { timeout: 2_000, interval: 50 };
    for (const n of cluster.nodes) {
      await vi.waitFor(async () => expect(await liveNodes(n), `/api/info on ${n.id}`).toEqual(['n1', 'n2', 'n3']), fresh);
      await vi.waitFor(async () => expect(await presence(n, 'room'), `presence asked on ${n.id}`).toEqual(everyone), fresh);
    }

    await sse2.close();
    for (const n of cluster.nodes) {
      await vi.waitFor(async () => expect(await presence(n, 'room'), `presence asked on ${n.id}`).toEqual([everyone[0], everyone[2]]), WAIT);
    }
    await Promise.all([ws1.close(), ws3.close()]);
  });
});

describe('graceful drain of one node', () => {
  it('closes WebSocket with 4000 and SSE with a disconnect 4000; client-library clients move to another node and recover', async () => {
    await using cluster = await startCluster(3);
    await using lb = await startBalancer(cluster.nodes.map((n) => n.url));
    const [n1, n2, n3] = cluster.nodes as [InProcessNode, InProcessNode, InProcessNode];
    const nodes = cluster.nodes;

    const rawWs = await connectWs(wsUrl(n2.url));
    rawWs.send({ id: 1, type: 'subscribe', channel: 'drain' });
    await rawWs.next('subscribed');
    const rawSse = await openSseStream(n2.url, ['drain']);
    // One client-library client per transport, each started on n2 (the balancer's second target).
    const libs = new Map<TransportName, LibClient>();
    try {
      for (const t of TRANSPORT_NAMES) {
        await steer(lb, 1);
        libs.set(t, libClient(lb.url, t, ['drain']));
        await untilSubscribed(libs.get(t)!, 'drain');
      }
      const wsLib = libs.get('websocket')!;
      expect(wsLib.connections[0]!.node).toBe('n2');
      expect(await presence(n1, 'drain')).toEqual([
        { node: 'n2', transport: 'sse' },
        { node: 'n2', transport: 'sse' },
        { node: 'n2', transport: 'websocket' },
        { node: 'n2', transport: 'websocket' },
      ]);
      const before = await publishSpread(nodes, 'drain', 9, { burst: 3 });
      for (const c of libs.values()) await vi.waitFor(() => expect(c.received.get('drain')!.length).toBeGreaterThanOrEqual(9), WAIT);

      // Publications keep coming from the other two nodes while n2 drains.
      const during = publishSpread([n1, n3], 'drain', 10, { burst: 2, first: 9 });
      await n2.app.close();
      expect(await rawWs.closeCode).toBe(4000);
      await rawSse.ended;
      expect(rawSse.disconnectEvents).toEqual([expect.objectContaining({ code: 4000, name: 'shutdown', reconnect: true })]);
      const after = await publishSpread([n1, n3], 'drain', 9, { first: 19 });
      const all = [...before, ...(await during), ...after].sort((a, b) => a.offset - b.offset);
      expect(all.map((p) => p.offset)).toEqual(range(1, 28));

      for (const [t, c] of libs) {
        await vi.waitFor(() => expect(c.received.get('drain')!.length, t).toBeGreaterThanOrEqual(28), WAIT);
        expect(delivered(c.received.get('drain')!), t).toEqual(expected(all));
        const r = recoveries(c, 'drain');
        expect(r[0], t).toBe(false);
        expect(r.slice(1), t).not.toContain(false);
      }
      // The streaming clients were cut and came back elsewhere, recovering.
      for (const t of ['websocket', 'sse'] as const) expect(recoveries(libs.get(t)!, 'drain').slice(1), t).toContain(true);
      expect(wsLib.connections.at(-1)!.node).not.toBe('n2');
      expect((await presence(n1, 'drain')).map((p) => p.node)).not.toContain('n2');
      // The leaving heartbeat removes n2 at once, not after three missed heartbeats (15 s).
      for (const n of [n1, n3]) await vi.waitFor(async () => expect(await liveNodes(n)).toEqual(['n1', 'n3']), { timeout: 3_000, interval: 50 });
    } finally {
      for (const c of libs.values()) c.close();
      await rawSse.close();
    }
  });

  it('does not sit out its shutdown timeout for a connection that never sent a request (a browser preconnect)', async () => {
    await using cluster = await startCluster(1);
    const [node] = cluster.nodes as [InProcessNode];
    const unused = net.connect(node.app.port, '127.0.0.1');
    await once(unused, 'connect');
    const closed = once(unused, 'close');
    const started = Date.now();
    await node.app.stop();
    await closed;
    // HUBBUB_SHUTDOWN_TIMEOUT is 2 s here (10 s by default); a drain with nothing in flight takes milliseconds.
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
