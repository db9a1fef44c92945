import type { Logger } from '../logger.js';

export interface HubOptions {
  /** Node name written in presence entries and join/leave publications. */
  nodeId?: string;
  /** Channels whose subscribers' joins and leaves are published to the channel itself. */
  presenceEvents?: (channel: string) => boolean;
  now?: () => number;
  /** Retries of a gap's history read while the broker is unavailable, before subscribers are dropped. */
  gapRetries?: number;
  /** First retry delay in ms; doubles each time (250 ms, 4 retries: ~4 s in all). */
  gapRetryDelayMs?: number;
  /**
   * How long the hub keeps following a channel after its last local subscriber left. Long-poll
   * clients leave and come back every response: following on keeps the hub's position current,
   * so they resume without a broker round trip, and spares the broker subscription churn.
   */
  lingerMs?: number;
  /** Recent publications kept per followed channel, to serve recoveries without the broker. */
  recentSize?: number;
  /**
   * The history limits the broker applies (defaults: 100, 5 min). A recovery served from the recent
   * window obeys them too, so the answer never depends on which node a client reaches.
   */
  historySize?: number;
  historyTtlMs?: number;
  /** Live publications buffered per subscriber while its recovery is read from history. */
  maxPendingPerSubscriber?: number;
  logger?: Pick<Logger, 'warn'>;
  /**
   * Told when a channel gets its first live subscriber on this node (true), and when the node stops
   * following it after its last one left and the linger passed (false): the occupied and vacated
   * webhooks. The linger spares the backend a vacated/occupied pair on every long-poll cycle.
   */
  occupancy?: (channel: string, occupied: boolean) => void;
}
