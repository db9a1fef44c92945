import { adminAuth } from '../admin/auth.js';
import type { TokenVerifier } from '../auth/tokens.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { ApiKeys } from './api-keys.js';
import { TrustedProxies } from './client-address.js';
import { Namespaces, type NamespaceOptions } from './namespaces.js';
import { OriginPolicy } from './origins.js';
import { Policy } from './policy.js';
import { type ConnectionEvents, type Limits, type SessionRules, Sessions } from './sessions.js';

// The session layer of one node, built from the config: namespaces and their policy, API keys,
// origins, proxies and limits. Bursts are the rate times a few seconds, so a page reload storm or
// a reconnect wave after a restart passes while a sustained flood does not.

export function buildSessions(
  config: Config,
  deps: { verifier: TokenVerifier | undefined; newClientId(): string; logger?: Logger; metrics?: Metrics; events?: ConnectionEvents },
): Sessions {
  return new Sessions({
    ...sessionRules(config, deps.verifier),
    newClientId: deps.newClientId,
    logger: deps.logger,
    metrics: deps.metrics,
    events: deps.events,
    limits: sessionLimits(config),
  });
}

/**
 * What a reload swaps in whole (Sessions.reload). `previous`: on a reload, the rules in force and
 * their config (the admin access keeps its derived keys when its secrets did not change).
 */
export function sessionRules(config: Config, verifier: TokenVerifier | undefined, previous?: { config: Config; rules: SessionRules }): SessionRules {
  // --presence-events predates namespace options: it turns joinLeave on for the namespaces it lists.
  const namespaces: Record<string, Partial<NamespaceOptions>> = { ...config.namespaces };
  for (const ns of config.presenceEvents) namespaces[ns] = { joinLeave: true, ...namespaces[ns] };
  const apiKeys = new ApiKeys(config.apiKey, config.apiKeys);
  const proxies = new TrustedProxies(config.trustedProxies);
  return {
    verifier,
    policy: new Policy(new Namespaces(config.defaults, namespaces)),
    apiKeys,
    origins: new OriginPolicy(config.allowedOrigins),
    proxies,
    cookieName: config.tokenCookie,
    // With the API keys it checks admin keys against: a reload swaps both at once.
    admin: adminAuth(config, { apiKeys, proxies }, previous && { config: previous.config, auth: previous.rules.admin }),
  };
}

export function sessionLimits(config: Config): Limits {
  return {
    connectionsPerIp: config.limitConnectionsPerIp,
    connectionRate: { perSecond: config.limitConnectionRate, burst: config.limitConnectionRate * 5 },
    commandRate: { perSecond: config.limitCommands, burst: config.limitCommands * 2 },
    publishRate: { perSecond: config.limitPublishes, burst: config.limitPublishes * 2 },
    authFailureRate: { perSecond: config.limitAuthFailures / 60, burst: config.limitAuthFailures },
  };
}
