import { channelNamespace } from '../contract/index.js';
import { TokenVerifier } from './auth/tokens.js';
import { memoryBroker } from './backbone.js';
import type { Broker } from './broker/broker.js';
import type { Config } from './config.js';
import { Hub } from './hub/hub.js';
import { SampledLog } from './log-sampler.js';
import type { Logger } from './logger.js';
import { type Metrics, noMetrics } from './metrics/metrics.js';
import { TimedBroker } from './metrics/timed-broker.js';
import { PublishService } from './publish/service.js';
import { buildSessions } from './session/build.js';
import type { Sessions } from './session/sessions.js';
import { Webhooks } from './webhooks/webhooks.js';

// The parts of a node that do not depend on how clients reach it: broker, hub, the session layer
// and the publish service. The HTTP front door, and later the ingest listeners, are built on it.

export interface Core {
  config: Config;
  logger: Logger;
  /** Reports rare events (disconnects, refusals, broker latency); counts kept elsewhere are read at scrape time. */
  metrics: Metrics;
  broker: Broker;
  hub: Hub;
  sessions: Sessions;
  publishing: PublishService;
  /** Events to the app's backend and the publish proxy (docs/webhooks.md); close() with the node. */
  webhooks: Webhooks;
  /** What clients got wrong, counted per kind and logged as a sample. */
  clientErrors: SampledLog;
  startedAt: number;
}

/** The verifier for connection and subscription tokens: the dev secret in development mode, else the configured key. */
export function tokenVerifier(config: Config): TokenVerifier | undefined {
  if (config.devTokenSecret !== undefined) return TokenVerifier.create({ secret: config.devTokenSecret });
  return TokenVerifier.create({
    secret: config.tokenSecret,
    publicKey: config.tokenPublicKey,
    jwksUrl: config.tokenJwksUrl,
    issuer: config.tokenIssuer,
    audience: config.tokenAudience,
    leewaySeconds: config.tokenLeeway,
  });
}

export function createCore(config: Config, logger: Logger, broker?: Broker, metrics: Metrics = noMetrics): Core {
  const store = broker ?? memoryBroker(config);
  let clientSeq = 0;
  const clientErrors = new SampledLog(logger);
  // Namespace rules are read from the session layer in force at each event (a reload may change them).
  const webhooks = new Webhooks(config.webhooks, { nodeId: config.nodeId, namespace: (ns) => sessions.policy.namespaces.of(ns), log: new SampledLog(logger) });
  const sessions = buildSessions(config, {
    verifier: tokenVerifier(config),
    newClientId: () => `${config.nodeId}-${(++clientSeq).toString(36)}`,
    logger,
    metrics,
    events: webhooks,
  });
  // The hub's broker calls are timed only when metrics are on: off, it talks to the broker itself.
  const hub = new Hub(metrics.enabled ? new TimedBroker(store, metrics) : store, {
    logger,
    nodeId: config.nodeId,
    presenceEvents: (channel) => sessions.policy.namespaces.of(channelNamespace(channel)).joinLeave,
    historySize: config.historySize,
    historyTtlMs: config.historyTtl * 1000,
    occupancy: (channel, occupied) => webhooks.occupancy(channel, occupied),
  });
  return {
    config,
    logger,
    metrics,
    broker: store,
    hub,
    sessions,
    publishing: new PublishService(hub, { maxMessageBytes: config.maxMessageBytes }, webhooks),
    webhooks,
    clientErrors,
    startedAt: Date.now(),
  };
}
