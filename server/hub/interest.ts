import type { Broker } from '../broker/broker.js';
import { KeyedQueue } from '../keyed-queue.js';

/**
 * The hub's interest in channels at the broker. Subscribe and unsubscribe calls for one channel
 * run in call order (a quick unsubscribe + subscribe must not reach the broker reversed); calls
 * for different channels run in parallel.
 */
export class BrokerInterest {
  private readonly queue = new KeyedQueue();

  constructor(
    private readonly broker: Broker,
    private readonly warn: (message: string, err?: unknown) => void,
  ) {}

  follow(channel: string): Promise<void> {
    return this.queue.run(channel, () => this.broker.subscribe(channel));
  }

  unfollow(channel: string): void {
    this.queue.run(channel, () => this.broker.unsubscribe(channel)).catch((err) =>
      this.warn(`broker unsubscribe of ${channel} failed`, err),
    );
  }

  /** Resolves once every queued call has finished. */
  idle(): Promise<void> {
    return this.queue.idle();
  }
}
