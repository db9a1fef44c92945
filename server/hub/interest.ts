import type { Broker } from '../broker/broker.js';

/**
 * The hub's interest in channels at the broker. Subscribe and unsubscribe calls for one channel
 * run in call order (a quick unsubscribe + subscribe must not reach the broker reversed); calls
 * for different channels run in parallel.
 */
export class BrokerInterest {
  private readonly ops = new Map<string, Promise<void>>();

  constructor(
    private readonly broker: Broker,
    private readonly warn: (message: string, err?: unknown) => void,
  ) {}

  follow(channel: string): Promise<void> {
    return this.queue(channel, () => this.broker.subscribe(channel));
  }

  unfollow(channel: string): void {
    this.queue(channel, () => this.broker.unsubscribe(channel)).catch((err) =>
      this.warn(`broker unsubscribe of ${channel} failed`, err),
    );
  }

  /** Resolves once every queued call has finished. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.ops.values()]);
  }

  private queue(channel: string, op: () => Promise<void>): Promise<void> {
    const previous = this.ops.get(channel) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(op);
    const tracked = next.finally(() => {
      if (this.ops.get(channel) === tracked) this.ops.delete(channel);
    });
    tracked.catch(() => undefined);
    this.ops.set(channel, tracked);
    return next;
  }
}
