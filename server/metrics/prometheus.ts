import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DISCONNECT_TABLE, type DisconnectName } from '../../contract/index.js';
import type { IngestDoor, IngestOutcome } from '../../contract/ingest.js';
import type { AuthFailure, BrokerCall, Metrics, NodeSources, RateLimit } from './metrics.js';

// Metrics in the Prometheus text format, with prom-client. Each node has its own Registry (never
// prom-client's global one), so several nodes in one process (the tests, a cluster in one process)
// do not collide; the process metrics (event-loop lag, heap, GC) belong to the process and are
// collected once per process into a registry of their own, appended to every node's exposition.

let processRegistry: Registry | undefined;

/** Event-loop lag, heap, GC and the other prom-client defaults, started on first use. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Latency buckets from 0.1 ms (memory broker) to 5 s (a NATS request waiting out a failover). */
const BROKER_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type Labels<L extends string> = Partial<Record<L, string | number>>;

/**
 * A counter whose value is kept elsewhere (a tally, the publish service's counters) and read at
 * scrape time: set from the reading, since those numbers only grow.
 */
function readCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[], read: () => Array<[Labels<L>, number]>): void {
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

function readGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: L[], read: () => Array<[Labels<L>, number]> | Promise<Array<[Labels<L>, number]>>): void {
  new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset();
      for (const [labels, value] of rows) this.set(labels, value);
    },
  });
}

export class PrometheusMetrics implements Metrics {
  readonly enabled = true;
  readonly registry = new Registry();
  private readonly disconnects: Counter<'transport' | 'reason' | 'code'>;
  private readonly authFailures: Counter<'reason'>;
  private readonly limited: Counter<'limit'>;
  private readonly brokerSeconds: Record<BrokerCall, Histogram<'broker' | 'outcome'>>;
  private readonly ingest: Counter<'door' | 'outcome'>;
  private watched = false;

  constructor() {
    const registers = [this.registry];
    this.disconnects = new Counter({
      name: 'hubbub_disconnects_total',
      help: 'Connections the server closed, by transport and disconnect reason (code from the disconnect table)',
      labelNames: ['transport', 'reason', 'code'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'hubbub_auth_failures_total',
      help: 'Refused credentials: a wrong API key, an invalid or an expired token',
      labelNames: ['reason'],
      registers,
    });
    this.limited = new Counter({ name: 'hubbub_rate_limited_total', help: 'Requests and commands refused by a rate limit, by limit', labelNames: ['limit'], registers });
    const histogram = (call: BrokerCall) =>
      new Histogram({
        name: `hubbub_broker_${call}_seconds`,
        help: `Duration of broker ${call} calls (outcome ok or error)`,
        labelNames: ['broker', 'outcome'],
        buckets: BROKER_BUCKETS,
        registers,
      });
    this.brokerSeconds = { publish: histogram('publish'), history: histogram('history') };
    this.ingest = new Counter({
      name: 'hubbub_ingest_messages_total',
      help: 'Lines, datagrams and NATS requests that reached an ingest door, by door (unix, udp, nats) and outcome (accepted, malformed, oversize, refused)',
      labelNames: ['door', 'outcome'],
      registers,
    });
    processMetrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  disconnected(transport: string, reason: DisconnectName): void {
    this.disconnects.inc({ transport, reason, code: DISCONNECT_TABLE[reason].code });
  }

  authFailed(reason: AuthFailure): void {
    this.authFailures.inc({ reason });
  }

  rateLimited(limit: RateLimit): void {
    this.limited.inc({ limit });
  }

  brokerCall(call: BrokerCall, broker: string, seconds: number, ok: boolean): void {
    this.brokerSeconds[call].observe({ broker, outcome: ok ? 'ok' : 'error' }, seconds);
  }

  ingested(door: IngestDoor, outcome: IngestOutcome): void {
    this.ingest.inc({ door, outcome });
  }

  watch(node: NodeSources): void {
    if (this.watched) throw new Error('PrometheusMetrics.watch: one node per registry');
    this.watched = true;
    const r = this.registry;
    readGauge(r, 'hubbub_node_info', 'Always 1: the node id, version and broker kind as labels', ['node', 'version', 'broker'], () => [
      [{ node: node.nodeId, version: node.version, broker: node.broker.kind }, 1],
    ]);
    readGauge(r, 'hubbub_connections', 'Open WebSocket and SSE connections, and waiting long-polls, by transport', ['transport'], () =>
      node.transports.map((t) => [{ transport: t.route }, t.connections]),
    );
    readGauge(r, 'hubbub_subscriptions', 'Subscriptions on this node (live and still recovering)', [], () => [[{}, node.hub.subscriptionCount]]);
    readGauge(r, 'hubbub_channels', 'Channels with at least one subscriber on this node', [], () => [[{}, node.hub.channelCount]]);
    readGauge(r, 'hubbub_channels_followed', 'Channels this node follows at the broker, lingering ones included', [], () => [[{}, node.hub.followedCount]]);
    readCounter(r, 'hubbub_publications_accepted_total', 'Publications stored by the publish service (REST, broadcast, client publishes)', [], () => [
      [{}, node.publishing.counters.accepted],
    ]);
    readCounter(r, 'hubbub_publications_refused_total', 'Publications the publish service refused, by error code', ['code'], () =>
      Object.entries(node.publishing.counters.refused).map(([code, n]) => [{ code }, n ?? 0]),
    );
    const tallies = () => node.hub.tallies();
    readCounter(r, 'hubbub_deliveries_total', 'Publications handed to a subscriber, by transport (live fan-out, backlogs, catch-ups)', ['transport'], () =>
      tallies().map(({ transport, tally }) => [{ transport }, tally.deliveries]),
    );
    readCounter(r, 'hubbub_delivered_bytes_total', 'Encoded publication bytes handed to subscribers, by transport (transport framing aside)', ['transport'], () =>
      tallies().map(({ transport, tally }) => [{ transport }, tally.bytes]),
    );
    readCounter(r, 'hubbub_recoveries_total', 'Subscriptions from a position, by transport: recovered without a gap (true) or not (false); a long-poll counts each request', ['transport', 'recovered'], () =>
      tallies().flatMap(({ transport, tally }) => [
        [{ transport, recovered: 'true' }, tally.recovered],
        [{ transport, recovered: 'false' }, tally.unrecovered],
      ]),
    );
    readGauge(r, 'hubbub_broker_connected', '1 while the broker can store and deliver (NATS connected), else 0', ['broker'], () => [
      [{ broker: node.broker.kind }, node.broker.ready ? 1 : 0],
    ]);
    readCounter(r, 'hubbub_broker_disconnects_total', 'Times the broker connection (NATS) was lost', ['broker'], () => [[{ broker: node.broker.kind }, node.broker.stats?.disconnects ?? 0]]);
    readCounter(r, 'hubbub_broker_reconnects_total', 'Times the broker connection (NATS) was regained', ['broker'], () => [[{ broker: node.broker.kind }, node.broker.stats?.reconnects ?? 0]]);
    readCounter(r, 'hubbub_webhook_events_total', 'Webhook events by event and outcome: sent, failed (in a failed attempt), retried, dropped (full queue), abandoned (out of attempts)', ['event', 'outcome'], () =>
      Object.entries(node.webhooks.stats().events ?? {}).flatMap(([event, outcomes]) => Object.entries(outcomes).map(([outcome, n]): [Labels<'event' | 'outcome'>, number] => [{ event, outcome }, n])),
    );
    readGauge(r, 'hubbub_webhook_pending', 'Webhook events waiting on this node, queued or in the request being sent', [], () => [[{}, node.webhooks.stats().pending]]);
    readCounter(r, 'hubbub_publish_proxy_total', 'Client publications the publish proxy accepted, rewrote, rejected, or could not ask about (unavailable)', ['outcome'], () =>
      Object.entries(node.webhooks.stats().proxy).map(([outcome, n]) => [{ outcome }, n]),
    );
    readGauge(r, 'hubbub_cluster_nodes', 'Live nodes of the cluster as this node sees them, itself included', [], async () => [[{}, (await node.cluster().nodes()).length]]);
  }

  async exposition(): Promise<string> {
    return (await this.registry.metrics()) + (await processMetrics().metrics());
  }
}
