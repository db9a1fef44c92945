import type { AdminAuth } from '../admin/auth.js';
import type { TokenVerifier } from '../auth/tokens.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ApiKeys } from './api-keys.js';
import type { TrustedProxies } from './client-address.js';
import type { ConnectionEvents } from './connection-events.js';
import type { OriginPolicy } from './origins.js';
import type { Policy } from './policy.js';
import type { Rate } from './rate.js';

// What the session registry (sessions.ts) is built with: its limits, the rules a reload replaces,
// and what each open() says about the request or connection it opens.

export interface Limits {
  /** Concurrent WebSockets, SSE streams and waiting long-polls per client address. */
  connectionsPerIp: number;
  /** New connections and realtime requests per client address. */
  connectionRate: Rate;
  /** Commands per WebSocket. */
  commandRate: Rate;
  /** Client publishes per user (per node). */
  publishRate: Rate;
  /** Failed API keys and tokens per client address; past it, credentials from there are refused. */
  authFailureRate: Rate;
}

/** What a configuration reload may replace (reload.ts): built whole, then swapped in as one reference. */
export interface SessionRules {
  verifier: TokenVerifier | undefined;
  policy: Policy;
  proxies: TrustedProxies;
  origins: OriginPolicy;
  apiKeys: ApiKeys;
  cookieName: string | undefined;
  /** The admin dashboard's access, whose tail tokens (auth/admin-tail.ts) the session layer accepts too. */
  admin: AdminAuth;
}

export interface SessionsOptions extends SessionRules {
  limits: Limits;
  newClientId(): string;
  now?: () => number;
  /** Where each connection's open and close lines go (info). */
  logger?: Pick<Logger, 'info'> | undefined;
  /** Counts refused credentials and rate-limit refusals (default: not counted). */
  metrics?: Pick<Metrics, 'authFailed' | 'rateLimited'> | undefined;
  /** Connection events of identified users (webhooks); anonymous connections cause none. */
  events?: ConnectionEvents | undefined;
}

export interface OpenOptions {
  transport: string;
  /** The `token` query parameter, when the route has one. */
  queryToken?: string | undefined;
  /** Holds a connection open (counts against connectionsPerIp until close()). */
  longLived: boolean;
  /**
   * A connection (WebSocket, SSE stream): a line is logged when it starts and when it ends. A
   * long-poll is not one: it is stateless (its cursor is all a node needs), so there is no
   * server-side start or end between two polls to log.
   */
  connection?: boolean;
}
