// What the broker conformance suites (broker-conformance.ts, broker-conformance-empty.ts) run against.

import type { Broker } from '../../server/broker/broker.js';

export interface BrokerFixture {
  broker: Broker;
  /** A second broker on the same backbone (another node), when the implementation has one. */
  peer?: Broker;
  /**
   * Lets the channel stay quiet until the backbone no longer holds its publications ('history') or
   * its position either ('meta'). Memory: advances the injected clock past that TTL and sweeps.
   * NATS: JetStream expires by real time, so it waits until the messages are gone.
   */
  quiet(channel: string, until: 'history' | 'meta'): Promise<void>;
  /**
   * A count that grows with every write to the backbone and never shrinks on its own. Memory: the
   * channels with a stream or a kept position. NATS: the last sequences of the deployment's streams.
   */
  writes(): Promise<number>;
  close(): Promise<void>;
}

export interface BrokerFactoryOptions {
  historySize: number;
  historyTtlMs: number;
  /** How long a quiet channel's position (epoch + latest offset) outlives its publications. */
  historyMetaTtlMs?: number;
  /** At most this many channels' positions are kept; the oldest goes first. */
  historyMetaMaxChannels?: number;
}

let seq = 0;
/** Unique channel per test so runs against a shared backbone never see each other. */
export function freshChannel(prefix = 'conf'): string {
  seq += 1;
  return `${prefix}:c${process.pid}-${Date.now().toString(36)}-${seq}`;
}
