import type { NodeSources } from './metrics.js';

// This node's counts as plain data, read from the same sources as the metrics (with metrics on or
// off): for pages and APIs that show a node (the admin dashboard) without parsing the exposition.

export interface NodeStats {
  node: string;
  connections: Record<string, number>;
  subscriptions: number;
  channels: number;
  publications: { accepted: number; refused: Record<string, number> };
  /** Per transport, since the node started. */
  deliveries: Record<string, { count: number; bytes: number; recovered: number; unrecovered: number }>;
  broker: { kind: string; connected: boolean; disconnects: number; reconnects: number };
}

export function nodeStats(node: Omit<NodeSources, 'cluster'>): NodeStats {
  const refused: Record<string, number> = {};
  for (const [code, n] of Object.entries(node.publishing.counters.refused)) refused[code] = n ?? 0;
  const deliveries: NodeStats['deliveries'] = {};
  for (const { transport, tally } of node.hub.tallies()) {
    deliveries[transport] = { count: tally.deliveries, bytes: tally.bytes, recovered: tally.recovered, unrecovered: tally.unrecovered };
  }
  return {
    node: node.nodeId,
    connections: Object.fromEntries(node.transports.map((t) => [t.route, t.connections])),
    subscriptions: node.hub.subscriptionCount,
    channels: node.hub.channelCount,
    publications: { accepted: node.publishing.counters.accepted, refused },
    deliveries,
    broker: { kind: node.broker.kind, connected: node.broker.ready, disconnects: node.broker.stats?.disconnects ?? 0, reconnects: node.broker.stats?.reconnects ?? 0 },
  };
}
