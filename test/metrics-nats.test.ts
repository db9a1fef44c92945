import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { scrape } from './support/exposition.js';
import { freshPrefix, startNode } from './support/cluster.js';
import { NatsServer } from './support/nats-server.js';
import { TEST_API_KEY } from './support/server.js';

// The NATS backbone under /metrics, on a real nats-server: the broker's latency histograms, the
// connection state and its losses and reconnects, and the cluster's nodes as this node sees them.

describe('metrics on NATS', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await NatsServer.start();
  });
  afterAll(async () => {
    await nats?.close();
  });

  it('times broker publishes and history reads, and counts the nodes of the cluster', async () => {
    const prefix = freshPrefix();
    const a = await startNode('ma', [nats.url], prefix, { HUBBUB_NODE_HEARTBEAT: '1' });
    const b = await startNode('mb', [nats.url], prefix, { HUBBUB_NODE_HEARTBEAT: '1' });
    try {
      await vi.waitFor(async () => expect((await scrape(a.url, TEST_API_KEY)).value('hubbub_cluster_nodes')).toBe(2), { timeout: 10_000 });
      const before = await scrape(a.url, TEST_API_KEY);
      for (let i = 0; i < 3; i++) await a.publish('nats-metrics', { i });
      expect((await a.api('/api/channels/nats-metrics/history')).status).toBe(200);
      const after = await scrape(a.url, TEST_API_KEY);
      const moved = (name: string) => after.value(name, { broker: 'nats', outcome: 'ok' }) - before.value(name, { broker: 'nats', outcome: 'ok' });
      expect(moved('hubbub_broker_publish_seconds_count')).toBe(3);
      expect(moved('hubbub_broker_history_seconds_count')).toBe(1);
      expect(moved('hubbub_broker_publish_seconds_sum')).toBeGreaterThan(0);
      expect(after.value('hubbub_node_info', { node: 'ma', broker: 'nats' })).toBe(1);
      // Each node keeps its own registry: b published nothing.
      expect((await scrape(b.url, TEST_API_KEY)).value('hubbub_broker_publish_seconds_count', { broker: 'nats', outcome: 'ok' })).toBe(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('shows the NATS connection down while nats-server is away, and counts the loss and the reconnect', async () => {
    const node = await startNode('mc', [nats.url], freshPrefix());
    try {
      const before = await scrape(node.url, TEST_API_KEY);
      expect(before.value('hubbub_broker_connected', { broker: 'nats' })).toBe(1);
      await nats.stop();
      await vi.waitFor(async () => expect((await scrape(node.url, TEST_API_KEY)).value('hubbub_broker_connected', { broker: 'nats' })).toBe(0), { timeout: 10_000 });
      const down = await scrape(node.url, TEST_API_KEY);
      expect(down.value('hubbub_broker_disconnects_total', { broker: 'nats' }) - before.value('hubbub_broker_disconnects_total', { broker: 'nats' })).toBe(1);
      await nats.restart();
      await vi.waitFor(async () => expect((await scrape(node.url, TEST_API_KEY)).value('hubbub_broker_connected', { broker: 'nats' })).toBe(1), { timeout: 15_000 });
      const back = await scrape(node.url, TEST_API_KEY);
      expect(back.value('hubbub_broker_reconnects_total', { broker: 'nats' }) - before.value('hubbub_broker_reconnects_total', { broker: 'nats' })).toBe(1);
    } finally {
      await node.close();
    }
  });
});
