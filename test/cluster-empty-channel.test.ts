import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { emptyEpoch, isEmptyEpoch } from '../contract/empty-epoch.js';
import { type Balancer, startBalancer } from './support/balancer.js';
import { type ClusterFixture, startCluster } from './support/cluster.js';
import { WAIT, delivered, hitsSince, openSseStream, steer } from './support/cluster-clients.js';
import { pollOnce } from './support/raw-clients.js';

// Issue #7, behind a round-robin balancer (Hubbub promises no sticky sessions): a client that saw a
// brand-new channel empty, `0<T>:0`, and comes back after its first publication to a node that never
// followed the channel is recovered from offset 1 by the broker's time rule, not told recovered: false.

const EMPTY_CURSOR = /^0[0-9a-z]{9}:0$/;
const DAY_MS = 24 * 3600 * 1000;

describe('a brand-new channel behind a round-robin balancer, two nodes on one NATS', () => {
  let cluster: ClusterFixture;
  let lb: Balancer;
  beforeAll(async () => {
    // History holds 2 publications: a third pushes offset 1 out.
    cluster = await startCluster(2, { HUBBUB_HISTORY_SIZE: '2' });
    lb = await startBalancer(cluster.nodes.map((n) => n.url));
  }, 60_000);
  afterAll(async () => {
    await lb?.close();
    await cluster?.close();
  });

  // Regression: the next poll reached the other node, which answered recovered: false, and the first publication was lost.
  it('long-poll: the first publication lands between two polls, the next poll reaches the other node: recovered, delivered', async () => {
    const channel = 'lp-fresh';
    await steer(lb, 0);
    const before = [...lb.hits];
    const empty = await pollOnce(lb.url, [channel], undefined);
    expect(empty.cursor).toMatch(EMPTY_CURSOR);
    const first = await cluster.nodes[0]!.publish(channel, 'first');
    const next = await pollOnce(lb.url, [channel], empty.cursor, undefined, 0);
    expect(hitsSince(lb, before)).toEqual([1, 1]);
    expect(next.subscriptions).toEqual([{ channel, epoch: empty.subscriptions[0]!.epoch, offset: 0, recovered: true }]);
    expect(delivered(next.publications)).toEqual([[1, 'first']]);
    expect(next.cursor).toBe(`${first.epoch}:1`);
  });

  // Regression: the same over SSE, the reconnect's Last-Event-ID carrying the empty position.
  it('SSE: a reconnect to the other node with Last-Event-ID at the empty position gets the first publication, recovered', async () => {
    const channel = 'sse-fresh';
    const stream = await openSseStream(lb.url, [channel]);
    const seen = stream.results[0]!;
    expect([isEmptyEpoch(seen.epoch), seen.offset, seen.recovered]).toEqual([true, 0, false]);
    const lastEventId = stream.lastEventId;
    expect(lastEventId).toBe(`${seen.epoch}:0`);
    await stream.close();

    const first = await cluster.nodes[1]!.publish(channel, 'first');
    const back = await openSseStream(lb.url, [channel], { lastEventId });
    expect(back.node).not.toBe(stream.node);
    expect(back.results).toEqual([{ channel, epoch: seen.epoch, offset: 0, recovered: true }]);
    await vi.waitFor(() => expect(delivered(back.publications)).toEqual([[1, 'first']]), WAIT);
    await cluster.nodes[0]!.publish(channel, 'second');
    await vi.waitFor(() => expect(delivered(back.publications)).toEqual([[1, 'first'], [2, 'second']]), WAIT);
    expect(back.position(channel)).toEqual({ epoch: first.epoch, offset: 2 });
    await back.close();
  });

  it('is told recovered: false, with nothing replayed, once offset 1 has left history or the empty position is older than the meta TTL', async () => {
    const gone = 'stale-size';
    const empty = await pollOnce(lb.url, [gone], undefined);
    for (const data of ['1', '2', '3']) await cluster.nodes[0]!.publish(gone, data);
    for (let i = 0; i < 2; i++) {
      const next = await pollOnce(lb.url, [gone], empty.cursor, undefined, 0);
      expect(next.subscriptions).toMatchObject([{ channel: gone, offset: 3, recovered: false }]);
      expect(next.publications).toEqual([]);
    }

    const old = 'stale-time';
    const first = await cluster.nodes[1]!.publish(old, 'first');
    const cursor = `${emptyEpoch(Date.now() - 31 * DAY_MS)}:0`;
    for (let i = 0; i < 2; i++) {
      const next = await pollOnce(lb.url, [old], cursor, undefined, 0);
      expect(next.subscriptions).toEqual([{ channel: old, epoch: first.epoch, offset: 1, recovered: false }]);
      expect(next.publications).toEqual([]);
    }
  });
});
