import type { DisconnectName } from '../../contract/index.js';
import type { IngestDoor, IngestOutcome } from '../../contract/ingest.js';
import type { Broker } from '../broker/broker.js';
import type { Cluster } from '../cluster/cluster.js';
import type { DeliveryTally } from '../hub/codec.js';
import type { PublishCounters } from '../publish/service.js';
import type { WebhookStats } from '../webhooks/webhooks.js';

// The one Metrics dependency, injected beside the logger. Counts a node already keeps (connections,
// subscriptions, the hub's delivery tallies, the publish service's counters) are read when scraped
// (`watch`); only rare events with nothing to read them from are reported here as they happen. The
// fan-out path never calls it: the hub adds to its tallies and nothing else.

/** Why an API key or token was refused (each also counts against the address's failure limit). */
export type AuthFailure = 'api_key' | 'token_invalid' | 'token_expired';

/** Which limit refused: new connections per address, open connections per address, failed credentials per address, WebSocket commands, client publishes. */
export type RateLimit = 'connection_rate' | 'connections_per_ip' | 'auth_failures' | 'commands' | 'publishes';

export type BrokerCall = 'publish' | 'history';

/** What a node shows at scrape time: read, never written, by the metrics. */
export interface NodeSources {
  readonly nodeId: string;
  readonly version: string;
  readonly transports: ReadonlyArray<{ readonly route: string; readonly connections: number }>;
  readonly hub: {
    readonly subscriptionCount: number;
    readonly channelCount: number;
    readonly followedCount: number;
    tallies(): Array<{ transport: string; tally: Readonly<DeliveryTally> }>;
  };
  readonly publishing: { readonly counters: PublishCounters };
  readonly broker: Pick<Broker, 'kind' | 'ready' | 'stats'>;
  readonly webhooks: { stats(): WebhookStats };
  cluster(): Pick<Cluster, 'nodes'>;
}

export interface Metrics {
  /** False for the no-op metrics (`--metrics false`): /metrics answers not_found. */
  readonly enabled: boolean;
  /** The server closed a connection with this disconnect reason (slow_consumer, stale, shutdown…). */
  disconnected(transport: string, reason: DisconnectName): void;
  authFailed(reason: AuthFailure): void;
  rateLimited(limit: RateLimit): void;
  /** One broker call's duration (the broker wrapper in timed-broker.ts reports them). */
  brokerCall(call: BrokerCall, broker: string, seconds: number, ok: boolean): void;
  /** One message that reached an ingest door (a line, a datagram, a NATS request) and what became of it. */
  ingested(door: IngestDoor, outcome: IngestOutcome): void;
  /** The node whose counts are read at scrape time; called once, when the node is built. */
  watch(node: NodeSources): void;
  /** The Prometheus text exposition of this node and its process. */
  exposition(): Promise<string>;
  readonly contentType: string;
}

/** Metrics off: every report is dropped, nothing is read. */
export const noMetrics: Metrics = {
  enabled: false,
  disconnected: () => undefined,
  authFailed: () => undefined,
  rateLimited: () => undefined,
  brokerCall: () => undefined,
  ingested: () => undefined,
  watch: () => undefined,
  exposition: async () => '',
  contentType: 'text/plain; version=0.0.4; charset=utf-8',
};
