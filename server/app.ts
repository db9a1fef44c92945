import { api } from '../contract/index.js';
import type { Broker } from './broker/broker.js';
import { type Cluster, type LocalNode, SingleNodeCluster } from './cluster/cluster.js';
import { NodeSampler } from './cluster/node-stats.js';
import type { Config } from './config.js';
import { type Core, createCore } from './core.js';
import { FrontDoor } from './http/front-door.js';
import { createRequestListener } from './http/koa-app.js';
import { readTlsFiles } from './http/tls.js';
import type { Hub } from './hub/hub.js';
import type { SampledLog } from './log-sampler.js';
import { type Logger, consoleLogger } from './logger.js';
import { type ReloadResult, Reloader } from './reload.js';
import { MetricsListener } from './metrics/metrics-listener.js';
import { type Metrics, type NodeSources, noMetrics } from './metrics/metrics.js';
import { type NodeStats, nodeStats } from './metrics/node-stats.js';
import { PrometheusMetrics } from './metrics/prometheus.js';
import { applyUserCommand } from './session/user-commands.js';
import { TRANSPORTS } from './transports/index.js';
import type { Transport, TransportEnv, TransportRoute } from './transports/transport.js';
import { VERSION } from './version.js';

/**
 * Something besides the HTTP front door that admits work, started by listen() and stopped by stop()
 * in reverse order: the ingest listeners (Unix socket, UDP, NATS subjects) plug in here, built on the
 * node's core (its publish service, sessions and hub) rather than threaded through the app.
 */
export interface Listener {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface HubbubDeps {
  broker?: Broker;
  /** Listeners started with the node, after its HTTP front door. */
  listeners?: (core: Core) => Listener[];
  /** Connects this node to the others; called once on the first listen(). Default: alone. */
  cluster?: (local: LocalNode) => Promise<Cluster>;
  logger?: Logger;
  /** Default: a Prometheus registry of this node's own when `config.metrics`, else none. */
  metrics?: Metrics;
  /** Check every REST response against the contract (tests turn it on). */
  validateResponses?: boolean;
  /** Answer /poll and /sse before Koa (default); off only to compare both doors in tests. */
  directRoutes?: boolean;
}

/**
 * Sizes of the registries that grow with connections and must shrink back when they leave: a
 * number that only climbs under churn is a leak. Plain counts, read without side effects.
 */
export interface Registries {
  /** Sockets the HTTP server tracks for shutdown (idle kept-alive, streaming or waiting; not upgraded ones). */
  sockets: number;
  /** Per transport: open WebSocket and SSE connections, waiting long-polls. */
  transports: Record<TransportRoute, number>;
  /** Hub subscriptions, live and still recovering. */
  subscriptions: number;
  /** Channels the hub follows at the broker, lingering ones included. */
  followedChannels: number;
  /** Users with live sessions, and client addresses with open connections. */
  sessions: { users: number; addresses: number };
}

export interface HubbubApp {
  readonly hub: Hub;
  readonly broker: Broker;
  readonly nodeId: string;
  readonly cluster: Cluster;
  /** What clients got wrong, counted per kind (each kind is logged at most once per interval). */
  readonly clientErrors: SampledLog;
  readonly metrics: Metrics;
  /** The port of the key-less /metrics listener (--metrics-port) once listening; undefined without one. */
  readonly metricsPort: number | undefined;
  /** Base URL once listening, e.g. http://127.0.0.1:8080 (https with --tls-cert) */
  readonly url: string;
  readonly port: number;
  listen(port?: number, host?: string): Promise<void>;
  /** Stops serving (clients get the shutdown code) but keeps hub and broker, so listen() can follow. */
  stop(): Promise<void>;
  /** stop() and close the broker. */
  close(): Promise<void>;
  registries(): Registries;
  /** The config in force (the start config with what reloads applied). */
  readonly config: Config;
  /** Applies what can change at runtime (reload.ts); throws ReloadError, having changed nothing, if `next` cannot be applied. */
  reload(next: Config): ReloadResult;
  /** This node's counts as plain data (connections, subscriptions, deliveries…), metrics on or off. */
  stats(): NodeStats;
}

export function createHubbub(config: Config, deps: HubbubDeps = {}): HubbubApp {
  const metrics = deps.metrics ?? (config.metrics ? new PrometheusMetrics() : noMetrics);
  const core = createCore(config, deps.logger ?? consoleLogger, deps.broker, metrics);
  const { hub, broker, sessions, clientErrors, logger } = core;
  const nodeId = config.nodeId;
  const local: LocalNode = {
    node: nodeId,
    version: VERSION,
    startedAt: core.startedAt,
    presence: (c) => hub.presence(c),
    userCommand: (command) => applyUserCommand(sessions, command),
    sample: () => sampler.sample(),
  };
  // Read at each heartbeat, after the transports below exist.
  const sampler = new NodeSampler({ connections: () => transports.reduce((n, t) => n + t.connections, 0), channelPositions: () => hub.channelPositions() });
  let cluster: Cluster = new SingleNodeCluster(local);
  let clusterReady: Promise<void> | undefined;
  let closing = false;

  const env: TransportEnv = {
    hub,
    config,
    sessions,
    publishing: core.publishing,
    node: { id: nodeId, version: VERSION },
    isClosing: () => closing,
    clientErrors,
    metrics,
    log: (m, err) => logger.warn(m, err),
  };
  const transports: Transport[] = TRANSPORTS.map((factory) => factory(env));
  const sources: NodeSources = {
    nodeId,
    version: VERSION,
    transports,
    hub,
    publishing: core.publishing,
    broker,
    webhooks: core.webhooks,
    cluster: () => cluster,
  };
  metrics.watch(sources);
  const metricsListener = config.metricsPort !== undefined && metrics.enabled ? new MetricsListener(metrics) : undefined;
  const door = new FrontDoor(
    createRequestListener(core, {
      transports,
      cluster: () => cluster,
      isClosing: () => closing,
      validateResponses: deps.validateResponses ?? false,
      directRoutes: deps.directRoutes ?? true,
    }),
    readTlsFiles(config),
  );
  const reloader = new Reloader(config, { sessions, logger, door });
  for (const t of transports) if (t.upgrade) door.route(api[t.route].path, t.upgrade);

  const listeners = deps.listeners?.(core) ?? [];
  const started: Listener[] = [];

  async function stop(): Promise<void> {
    if (!door.listening) return;
    closing = true;
    while (started.length > 0) await started.pop()!.stop();
    await metricsListener?.stop();
    await door.stop(async () => void (await Promise.all(transports.map((t) => t.shutdown('shutdown')))), config.shutdownTimeout * 1000);
    closing = false;
  }

  return {
    hub,
    broker,
    nodeId,
    clientErrors,
    metrics,
    get metricsPort() {
      return metricsListener && door.listening ? metricsListener.port : undefined;
    },
    get cluster() {
      return cluster;
    },
    get url() {
      return `${door.secure ? 'https' : 'http'}://127.0.0.1:${door.port}`;
    },
    get port() {
      return door.port;
    },
    async listen(p = config.port, host = config.host) {
      if (door.listening) throw new Error('already listening');
      const join = deps.cluster;
      clusterReady ??= join ? join(local).then((c) => void (cluster = c)) : Promise.resolve();
      await clusterReady;
      await door.listen(p, host);
      if (metricsListener) await metricsListener.listen(config.metricsPort!, host);
      for (const l of listeners) {
        try {
          await l.start();
        } catch (err) {
          // A door that cannot open (its socket taken, its port in use) leaves nothing half-open behind.
          await stop();
          throw err;
        }
        started.push(l);
      }
    },
    stop,
    get config() {
      return reloader.config;
    },
    reload: (next) => reloader.apply(next),
    registries() {
      const counts = Object.fromEntries(transports.map((t) => [t.route, t.connections])) as Record<TransportRoute, number>;
      return {
        sockets: door.sockets,
        transports: counts,
        subscriptions: hub.subscriptionCount,
        followedChannels: hub.followedCount,
        sessions: sessions.counts,
      };
    },
    stats: () => nodeStats(sources),
    async close() {
      await stop();
      sessions.close();
      await hub.stopLingering();
      // The clients' disconnect events were queued by stop(): they get the drain's time to leave.
      await core.webhooks.close(config.shutdownTimeout * 1000);
      await cluster.close();
      await broker.close();
    },
  };
}
