import { performance } from 'node:perf_hooks';
import type { JsonData, Publication, StreamPosition } from '../../contract/index.js';
import type { Broker, BrokerConnectionStats, BrokerHandler, HistoryPage, HistoryQuery, PublishOptions } from '../broker/broker.js';
import type { BrokerCall, Metrics } from './metrics.js';

// The broker as the hub sees it when metrics are on: every publish and history read is timed
// (the hub's own recovery reads included), whichever broker is behind. Off, the hub gets the
// broker itself and nothing is timed.

export class TimedBroker implements Broker {
  constructor(
    private readonly inner: Broker,
    private readonly metrics: Pick<Metrics, 'brokerCall'>,
  ) {}

  get kind(): string {
    return this.inner.kind;
  }

  get ready(): boolean {
    return this.inner.ready;
  }

  get stats(): BrokerConnectionStats | undefined {
    return this.inner.stats;
  }

  setHandler(handler: BrokerHandler): void {
    this.inner.setHandler(handler);
  }

  publish(channel: string, data: JsonData, options?: PublishOptions): Promise<Publication> {
    return this.timed('publish', () => this.inner.publish(channel, data, options));
  }

  history(channel: string, query?: HistoryQuery): Promise<HistoryPage> {
    return this.timed('history', () => this.inner.history(channel, query));
  }

  subscribe(channel: string): Promise<void> {
    return this.inner.subscribe(channel);
  }

  unsubscribe(channel: string): Promise<void> {
    return this.inner.unsubscribe(channel);
  }

  position(channel: string): Promise<StreamPosition> {
    return this.inner.position(channel);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** From before the call (its synchronous part counts) to its settling. */
  private timed<T>(call: BrokerCall, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    return work().then(
      (value) => {
        this.metrics.brokerCall(call, this.inner.kind, (performance.now() - start) / 1000, true);
        return value;
      },
      (err: unknown) => {
        this.metrics.brokerCall(call, this.inner.kind, (performance.now() - start) / 1000, false);
        throw err;
      },
    );
  }
}
