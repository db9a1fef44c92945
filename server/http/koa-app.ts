import type { RequestListener } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import { type InfoResponse, adminApi, api } from '../../contract/index.js';
import { adminHandlers } from '../admin/handlers.js';
import { mountAdminPages } from '../admin/pages.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Core } from '../core.js';
import { HubbubError } from '../errors.js';
import type { Transport } from '../transports/transport.js';
import { VERSION } from '../version.js';
import { type RouterHandlers, mountContract } from './adapter.js';
import { apiHandlers } from './api-handlers.js';
import { adminBundle, clientBundle } from './client-bundle.js';
import { clientHandlers } from './client-handlers.js';
import { cors } from './cors.js';
import { type DirectHandler, directRequests } from './direct-route.js';
import { errorMiddleware } from './error-middleware.js';
import { accessGuard } from './guard.js';
import { metricsHandlers } from '../metrics/metrics-route.js';
import { probeHandlers } from './probes.js';
import { requestLog } from './request-log.js';
import { mountStatic } from './static.js';

// Plain HTTP requests: every contract route (REST API, client routes, the realtime transports'
// GET routes), the static pages, CORS for the client paths, and one error policy. The realtime
// transports' GET requests are answered before Koa when they can be (direct-route.ts).

/** The paths pages on other origins may use (CORS); everything else is same-origin or server-to-server. */
const CROSS_ORIGIN_PATHS = [api.sse.path, api.poll.path, api.clientPublish.path, '/client/hubbub.js'];

/** Requests logged at debug (request-log.ts says why): the realtime transports' and the probes'. */
const QUIET_PATHS = [api.sse.path, api.poll.path, api.websocket.path, api.health.path, api.ready.path];

function memory(): InfoResponse['memory'] {
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

export interface KoaAppDeps {
  transports: readonly Transport[];
  cluster(): Cluster;
  isClosing(): boolean;
  /** Check every REST response against the contract (tests turn it on). */
  validateResponses: boolean;
  /** Answer the realtime GET routes before Koa (default); off only to compare both doors in tests. */
  directRoutes?: boolean;
}

/** The HTTP request listener: the direct route for the realtime transports that never upgrade, Koa for everything. */
export function createRequestListener(core: Core, deps: KoaAppDeps): RequestListener {
  const koa = createKoaApp(core, deps).callback();
  if (deps.directRoutes === false) return koa;
  const routes = deps.transports
    .filter((t) => !t.capabilities.upgrade)
    // The contract's request type for this route is what the direct route validates the query against.
    .map((t) => ({ route: api[t.route], handle: t.handle as unknown as DirectHandler, sendsCorsHeaders: t.capabilities.sendsCorsHeaders === true }));
  return directRequests(koa, routes, {
    logger: core.logger,
    clientErrors: core.clientErrors,
    isClosing: deps.isClosing,
    origins: () => core.sessions.options.origins,
    crossOrigin: CROSS_ORIGIN_PATHS,
  });
}

export function createKoaApp(core: Core, deps: KoaAppDeps): Koa {
  const { config, sessions, publishing, hub, clientErrors } = core;
  const koa = new Koa();
  koa.use(requestLog(core.logger, QUIET_PATHS));
  koa.use(errorMiddleware({ logger: core.logger, clientErrors, isClosing: deps.isClosing }));
  // Koa's default handler prints every client abort (EPIPE, ECONNRESET on a closed SSE stream).
  koa.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ECONNRESET' || err.code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    clientErrors.warn(`http-error:${err.code ?? 'unknown'}`, 'http error', err);
  });
  koa.use(cors(() => sessions.options.origins, CROSS_ORIGIN_PATHS));

  const router = new Router();
  const handlers = {
    ...apiHandlers({
      hub,
      publishing,
      cluster: deps.cluster,
      presenceListed: (channel) => sessions.policy.presenceListed(channel),
      info: () => ({
        node: config.nodeId,
        version: VERSION,
        broker: core.broker.kind,
        uptime: (Date.now() - core.startedAt) / 1000,
        connections: deps.transports.reduce((n, t) => n + t.connections, 0),
        memory: memory(),
      }),
    }),
    ...clientHandlers({ sessions, publishing, devTokenSecret: config.devTokenSecret }),
    ...probeHandlers({ config, broker: core.broker, startedAt: core.startedAt, isClosing: deps.isClosing }),
    ...metricsHandlers(core.metrics),
    ...Object.fromEntries(deps.transports.map((t) => [t.route, t.handle])),
  } as RouterHandlers<typeof api>;
  // Read per request: a reload (new password, admin keys) replaces it with the session rules.
  const admin = () => sessions.options.admin;
  const options = {
    // Broadcast bodies carry channel lists besides the data, which has its own limit.
    maxBodyBytes: config.maxMessageBytes + 64 * 1024,
    validateResponses: deps.validateResponses,
    guard: accessGuard({ apiKeys: () => sessions.options.apiKeys, sessions, admin }),
  };
  mountContract(router, api, handlers, options);
  mountContract(router, adminApi, adminHandlers({ auth: admin, config, hub, publishing, sessions, cluster: deps.cluster, logger: core.logger }), options);
  mountStatic(router, { clientBundle });
  mountAdminPages(router, { enabled: () => admin().enabled, bundle: adminBundle });
  koa.use(router.routes());
  koa.use(
    router.allowedMethods({
      throw: true,
      methodNotAllowed: () => new HubbubError('method_not_allowed'),
      notImplemented: () => new HubbubError('method_not_allowed'),
    }),
  );
  return koa;
}
