import { timingSafeEqual } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { type InfoResponse, api, channelNamespace, errorBody } from '../contract/index.js';
import type { Broker } from './broker/broker.js';
import { MemoryBroker } from './broker/memory.js';
import { type Cluster, type LocalNode, SingleNodeCluster } from './cluster/cluster.js';
import type { Config } from './config.js';
import { HubbubError, toHubbubError } from './errors.js';
import { mountContract, type RouterHandlers } from './http/adapter.js';
import { apiHandlers } from './http/api-handlers.js';
import { clientBundle } from './http/client-bundle.js';
import { answerClientError } from './http/client-error.js';
import { trackConnections } from './http/connections.js';
import { abortHandshake } from './http/upgrade-response.js';
import { mountStatic } from './http/static.js';
import { Hub } from './hub/hub.js';
import { SampledLog } from './log-sampler.js';
import { type Logger, consoleLogger } from './logger.js';
import { TRANSPORTS } from './transports/index.js';
import type { Transport, TransportEnv, TransportRoute } from './transports/transport.js';
import { VERSION } from './version.js';

export interface HubbubDeps {
  broker?: Broker;
  /** Connects this node to the others; called once on the first listen(). Default: alone. */
  cluster?: (local: LocalNode) => Promise<Cluster>;
  logger?: Logger;
  /** Check every REST response against the contract (tests turn it on). */
  validateResponses?: boolean;
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
}

export interface HubbubApp {
  readonly hub: Hub;
  readonly broker: Broker;
  readonly nodeId: string;
  readonly cluster: Cluster;
  /** What clients got wrong, counted per kind (each kind is logged at most once per interval). */
  readonly clientErrors: SampledLog;
  /** Base URL once listening, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  listen(port?: number, host?: string): Promise<void>;
  /** Stops serving (clients get the shutdown code) but keeps hub and broker, so listen() can follow. */
  stop(): Promise<void>;
  /** stop() and close the broker. */
  close(): Promise<void>;
  registries(): Registries;
}

function memory(): InfoResponse['memory'] {
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

export function createHubbub(config: Config, deps: HubbubDeps = {}): HubbubApp {
  const logger = deps.logger ?? consoleLogger;
  const nodeId = config.nodeId;
  const clientErrors = new SampledLog(logger);
  const broker =
    deps.broker ??
    new MemoryBroker({
      historySize: config.historySize,
      historyTtlMs: config.historyTtl * 1000,
      historyMetaTtlMs: config.historyMetaTtl * 1000,
    });
  const presenceNamespaces = new Set(config.presenceEvents);
  const hub = new Hub(broker, {
    logger,
    nodeId,
    presenceEvents: (channel) => presenceNamespaces.has(channelNamespace(channel)),
    historySize: config.historySize,
    historyTtlMs: config.historyTtl * 1000,
  });
  const started = Date.now();
  const local: LocalNode = { node: nodeId, version: VERSION, startedAt: started, presence: (c) => hub.presence(c) };
  let cluster: Cluster = new SingleNodeCluster(local);
  let clusterReady: Promise<void> | undefined;
  let closing = false;
  let clientSeq = 0;

  const env: TransportEnv = {
    hub,
    config,
    node: { id: nodeId, version: VERSION },
    isClosing: () => closing,
    newClientId: () => `${nodeId}-${(++clientSeq).toString(36)}`,
    clientErrors,
    log: (m, err) => logger.warn(m, err),
  };
  const transports: Transport[] = TRANSPORTS.map((factory) => factory(env));

  const koa = new Koa();
  koa.use(async (ctx, next) => {
    try {
      await next();
      // Nothing answered: not a route of ours (405s are thrown by allowedMethods below).
      if (ctx.status === 404 && ctx.body == null && ctx.respond !== false) {
        throw new HubbubError('not_found', `no endpoint at ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const e = toHubbubError(err);
      if (e.code === 'internal') logger.warn(`${ctx.method} ${ctx.path} failed`, err);
      else clientErrors.warn(`http:${e.code}`, `${ctx.method} ${ctx.path}: ${e.code}`);
      ctx.status = e.status;
      ctx.body = e.toBody();
    }
    // A kept-alive socket that was busy when stop() closed the idle ones would otherwise carry the
    // client's retries (503s) for as long as it keeps retrying, and hold server.close() open.
    if (closing) ctx.set('Connection', 'close');
  });

  // Koa's default handler prints every client abort (EPIPE, ECONNRESET on a closed SSE stream).
  koa.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ECONNRESET' || err.code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    clientErrors.warn(`http-error:${err.code ?? 'unknown'}`, 'http error', err);
  });

  const router = new Router();
  const expected = Buffer.from(`Bearer ${config.apiKey}`);
  const handlers = {
    ...apiHandlers({
      hub,
      cluster: () => cluster,
      maxMessageBytes: config.maxMessageBytes,
      info: () => ({
        node: nodeId,
        version: VERSION,
        broker: broker.kind,
        uptime: (Date.now() - started) / 1000,
        connections: transports.reduce((n, t) => n + t.connections, 0),
        memory: memory(),
      }),
    }),
    ...Object.fromEntries(transports.map((t) => [t.route, t.handle])),
  } as RouterHandlers<typeof api>;
  mountContract(router, api, handlers, {
    // Broadcast bodies carry channel lists besides the data, which has its own limit.
    maxBodyBytes: config.maxMessageBytes + 64 * 1024,
    validateResponses: deps.validateResponses ?? false,
    guard(route, ctx) {
      if (!route.path.startsWith('/api/')) return;
      const given = Buffer.from(ctx.get('authorization'));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HubbubError('unauthorized');
    },
  });
  mountStatic(router, { clientBundle });
  koa.use(router.routes());
  koa.use(
    router.allowedMethods({
      throw: true,
      methodNotAllowed: () => new HubbubError('method_not_allowed'),
      notImplemented: () => new HubbubError('method_not_allowed'),
    }),
  );

  const upgrades = new Map<string, Transport>();
  for (const t of transports) if (t.upgrade) upgrades.set(api[t.route].path, t);

  let server: Server | undefined;
  let port = 0;

  let connections: ReturnType<typeof trackConnections> | undefined;

  function newServer(): Server {
    const s = createServer(koa.callback());
    connections = trackConnections(s);
    s.on('clientError', answerClientError);
    s.on('upgrade', (req, socket, head) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const t = upgrades.get(path);
      if (!t?.upgrade) {
        abortHandshake(socket, 404, errorBody('not_found', `no WebSocket endpoint at ${path}`));
        return;
      }
      t.upgrade(req, socket, head);
    });
    return s;
  }

  async function stop(): Promise<void> {
    const s = server;
    if (!s) return;
    closing = true;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    await Promise.all(transports.map((t) => t.shutdown('shutdown')));
    connections?.closeUnused();
    const deadline = setTimeout(() => s.closeAllConnections(), config.shutdownTimeout * 1000);
    await closed;
    clearTimeout(deadline);
    server = undefined;
    closing = false;
  }

  return {
    hub,
    broker,
    nodeId,
    clientErrors,
    get cluster() {
      return cluster;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    async listen(p = config.port, host = config.host) {
      if (server) throw new Error('already listening');
      const join = deps.cluster;
      clusterReady ??= join ? join(local).then((c) => void (cluster = c)) : Promise.resolve();
      await clusterReady;
      const s = newServer();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(p, host, () => resolve());
      });
      server = s;
      port = (s.address() as AddressInfo).port;
    },
    stop,
    registries() {
      const counts = Object.fromEntries(transports.map((t) => [t.route, t.connections])) as Record<TransportRoute, number>;
      return {
        sockets: server ? (connections?.size ?? 0) : 0,
        transports: counts,
        subscriptions: hub.subscriptionCount,
        followedChannels: hub.followedCount,
      };
    },
    async close() {
      await stop();
      await hub.settle();
      await cluster.close();
      await broker.close();
    },
  };
}
