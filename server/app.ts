import Router from '@koa/router';
import Koa from 'koa';
import { type InfoResponse, api, channelNamespace } from '../contract/index.js';
import { TokenVerifier } from './auth/tokens.js';
import type { Broker } from './broker/broker.js';
import { MemoryBroker } from './broker/memory.js';
import { type Cluster, type LocalNode, SingleNodeCluster } from './cluster/cluster.js';
import type { Config } from './config.js';
import { HubbubError } from './errors.js';
import { mountContract, type RouterHandlers } from './http/adapter.js';
import { apiHandlers } from './http/api-handlers.js';
import { clientBundle } from './http/client-bundle.js';
import { clientHandlers } from './http/client-handlers.js';
import { cors } from './http/cors.js';
import { errorMiddleware } from './http/error-middleware.js';
import { FrontDoor } from './http/front-door.js';
import { accessGuard } from './http/guard.js';
import { mountStatic } from './http/static.js';
import { Hub } from './hub/hub.js';
import { SampledLog } from './log-sampler.js';
import { type Logger, consoleLogger } from './logger.js';
import { PublishService } from './publish/service.js';
import { buildSessions } from './session/build.js';
import { applyUserCommand } from './session/user-commands.js';
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

/** The paths pages on other origins may use (CORS); everything else is same-origin or server-to-server. */
const CROSS_ORIGIN_PATHS = [api.sse.path, api.poll.path, api.clientPublish.path, '/client/hubbub.js'];

export function createHubbub(config: Config, deps: HubbubDeps = {}): HubbubApp {
  const logger = deps.logger ?? consoleLogger;
  const nodeId = config.nodeId;
  const broker =
    deps.broker ??
    new MemoryBroker({
      historySize: config.historySize,
      historyTtlMs: config.historyTtl * 1000,
      historyMetaTtlMs: config.historyMetaTtl * 1000,
    });
  const clientErrors = new SampledLog(logger);
  let clientSeq = 0;
  const sessions = buildSessions(config, {
    verifier: TokenVerifier.create(
      config.devTokenSecret !== undefined
        ? { secret: config.devTokenSecret }
        : {
            secret: config.tokenSecret,
            publicKey: config.tokenPublicKey,
            jwksUrl: config.tokenJwksUrl,
            issuer: config.tokenIssuer,
            audience: config.tokenAudience,
            leewaySeconds: config.tokenLeeway,
          },
    ),
    newClientId: () => `${nodeId}-${(++clientSeq).toString(36)}`,
  });
  const hub = new Hub(broker, {
    logger,
    nodeId,
    presenceEvents: (channel) => sessions.policy.namespaces.of(channelNamespace(channel)).joinLeave,
    historySize: config.historySize,
    historyTtlMs: config.historyTtl * 1000,
  });
  const publishing = new PublishService(hub, { maxMessageBytes: config.maxMessageBytes });
  const started = Date.now();
  const local: LocalNode = {
    node: nodeId,
    version: VERSION,
    startedAt: started,
    presence: (c) => hub.presence(c),
    userCommand: (command) => applyUserCommand(sessions, command),
  };
  let cluster: Cluster = new SingleNodeCluster(local);
  let clusterReady: Promise<void> | undefined;
  let closing = false;

  const env: TransportEnv = {
    hub,
    config,
    sessions,
    publishing,
    node: { id: nodeId, version: VERSION },
    isClosing: () => closing,
    clientErrors,
    log: (m, err) => logger.warn(m, err),
  };
  const transports: Transport[] = TRANSPORTS.map((factory) => factory(env));

  const koa = new Koa();
  koa.use(errorMiddleware({ logger, clientErrors, isClosing: () => closing }));
  // Koa's default handler prints every client abort (EPIPE, ECONNRESET on a closed SSE stream).
  koa.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ECONNRESET' || err.code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    clientErrors.warn(`http-error:${err.code ?? 'unknown'}`, 'http error', err);
  });
  koa.use(cors(sessions.options.origins, CROSS_ORIGIN_PATHS));

  const router = new Router();
  const handlers = {
    ...apiHandlers({
      hub,
      publishing,
      cluster: () => cluster,
      presenceListed: (channel) => sessions.policy.presenceListed(channel),
      info: () => ({
        node: nodeId,
        version: VERSION,
        broker: broker.kind,
        uptime: (Date.now() - started) / 1000,
        connections: transports.reduce((n, t) => n + t.connections, 0),
        memory: memory(),
      }),
    }),
    ...clientHandlers({ sessions, publishing, devTokenSecret: config.devTokenSecret }),
    ...Object.fromEntries(transports.map((t) => [t.route, t.handle])),
  } as RouterHandlers<typeof api>;
  mountContract(router, api, handlers, {
    // Broadcast bodies carry channel lists besides the data, which has its own limit.
    maxBodyBytes: config.maxMessageBytes + 64 * 1024,
    validateResponses: deps.validateResponses ?? false,
    guard: accessGuard({ apiKeys: sessions.options.apiKeys, sessions }),
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

  const door = new FrontDoor(koa.callback());
  for (const t of transports) if (t.upgrade) door.route(api[t.route].path, t.upgrade);

  async function stop(): Promise<void> {
    if (!door.listening) return;
    closing = true;
    await door.stop(async () => void (await Promise.all(transports.map((t) => t.shutdown('shutdown')))), config.shutdownTimeout * 1000);
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
      return `http://127.0.0.1:${door.port}`;
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
    },
    stop,
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
    async close() {
      await stop();
      sessions.close();
      await hub.settle();
      await cluster.close();
      await broker.close();
    },
  };
}
