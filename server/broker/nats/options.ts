import { DEFAULT_HISTORY_META_TTL_MS } from '../broker.js';
import type { Logger } from '../../logger.js';
import type { StoreLimits } from './store.js';

// What a NatsBroker is configured with, and the JetStream limits that follows from it.


export interface NatsBrokerOptions {
  servers: string | string[];
  /** Subject prefix and stream name stem; deployments sharing one NATS use different prefixes. */
  prefix?: string;
  historySize: number;
  historyTtlMs: number;
  /** How long a quiet channel's position outlives its publications (its epoch record's max age). Default 30 days. */
  historyMetaTtlMs?: number;
  /** Epoch records kept at most, one per channel (the meta stream's max_msgs). Default 1,000,000. */
  historyMetaMaxChannels?: number;
  /** How long JetStream keeps a publication past the history TTL so a node can seal the quiet channel. Default 30 s. */
  sealGraceMs?: number;
  /** JetStream replicas of the streams (1, 3 or 5; at most the cluster size). */
  replicas?: number;
  /** Connection name, shown by the NATS monitoring endpoints. */
  name?: string;
  idempotencyWindowMs?: number;
  /** How long an offset claim stays exclusive (the history stream's duplicate window). Default 30 s. */
  claimWindowMs?: number;
  /** Bound on every NATS round trip; publish/history/position reject after a few of them. */
  requestTimeoutMs?: number;
  reconnectTimeWaitMs?: number;
  /** How long an out-of-order live publication waits for the missing ones before onGap. */
  reorderWindowMs?: number;
  /** Catch-ups of up to this many publications follow back links instead of creating a consumer. */
  historyWalkLimit?: number;
  logger?: Pick<Logger, 'warn'>;
}

export interface NatsBrokerStats {
  /** Connection losses and reconnects reported by the NATS client. */
  disconnects: number;
  reconnects: number;
  /** Stored or live messages that could not be decoded (each also logged). */
  decodeErrors: number;
  /** Appends (one publication or a batch) that lost the race for an offset and were retried. */
  publishConflicts: number;
  gaps: number;
  duplicatesDropped: number;
  /** Quiet channels this node sealed (their position kept past their publications). */
  seals: number;
}

/** Every node of a deployment must agree on these (the last to connect reconfigures the streams). */
export function storeLimits(options: NatsBrokerOptions): StoreLimits {
  return {
    historySize: options.historySize,
    historyTtlMs: options.historyTtlMs,
    idempotencyWindowMs: options.idempotencyWindowMs ?? 300_000,
    claimWindowMs: options.claimWindowMs ?? 30_000,
    replicas: options.replicas ?? 1,
    requestTimeoutMs: options.requestTimeoutMs ?? 2_000,
    // A position kept shorter than the publications that carry it would be no use.
    metaTtlMs: Math.max(options.historyTtlMs, options.historyMetaTtlMs ?? DEFAULT_HISTORY_META_TTL_MS),
    metaMaxChannels: options.historyMetaMaxChannels ?? 1_000_000,
    sealGraceMs: options.sealGraceMs ?? 30_000,
  };
}
