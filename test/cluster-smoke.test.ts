import { describe, expect, it, vi } from 'vitest';
import { InfoResponse } from '../contract/index.js';
import { startBalancer } from './support/balancer.js';
import { startCluster } from './support/cluster.js';
import { openSession } from './support/raw-clients.js';

describe('three nodes on one NATS (smoke)', () => {
  it('delivers a publication made on one node to subscribers of every transport on the others', async () => {
    await using cluster = await startCluster(3);
    const [n1, n2, n3] = cluster.nodes;
    const sessions = await Promise.all([
      openSession('websocket', n2!.url, ['room']),
      openSession('sse', n3!.url, ['room']),
      openSession('poll', n2!.url, ['room']),
    ]);
    await n1!.publish('room', 'a');
    await n3!.publish('room', 'b');
    for (const s of sessions) await vi.waitFor(() => expect(s.publications.map((p) => p.data)).toEqual(['a', 'b']));
    await Promise.all(sessions.map((s) => s.close()));
    const info = InfoResponse.parse(await (await n1!.api('/api/info')).json());
    await vi.waitFor(async () => {
      const i = InfoResponse.parse(await (await n1!.api('/api/info')).json());
      expect(i.nodes.map((n) => n.node)).toEqual(['n1', 'n2', 'n3']);
    });
    expect(info.broker).toBe('nats');
  });

  it('balances each request to the next node', async () => {
    await using cluster = await startCluster(2);
    await using lb = await startBalancer(cluster.nodes.map((n) => n.url));
    const s = await openSession('poll', lb.url, ['rr']);
    await cluster.nodes[0]!.publish('rr', 1);
    await cluster.nodes[1]!.publish('rr', 2);
    await vi.waitFor(() => expect(s.publications.map((p) => p.data)).toEqual([1, 2]), { timeout: 8000 });
    await s.close();
    expect(lb.hits.every((h) => h > 0)).toBe(true);
  });
});
