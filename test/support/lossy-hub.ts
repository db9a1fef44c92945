import type { Publication, StreamPosition, SubscribeResult } from '../../contract/index.js';
import { type BrokerHandler, BrokerUnavailableError, type HistoryPage, type HistoryQuery } from '../../server/broker/broker.js';
import { MemoryBroker } from '../../server/broker/memory.js';
import { Hub, type HubOptions } from '../../server/hub/hub.js';
import type { Subscriber } from '../../server/hub/subscriber.js';
import { memoryLogger } from '../../server/logger.js';

// A hub over a memory broker whose live delivery can be cut and whose reads can be held open, and
// subscribers that record what they are told: the hub test files share them.

/**
 * A memory broker whose live delivery can be cut, as a NATS reconnect or a slow consumer would,
 * and whose history reads can be held open to interleave live traffic with a recovery.
 */
export class LossyBroker extends MemoryBroker {
  dropLive = false;
  subscribeCalls: string[] = [];
  unsubscribeCalls: string[] = [];
  historyGate: Promise<void> | undefined;
  /** Holds position() answers (read before the wait) open, as a slow broker round trip would. */
  positionGate: Promise<void> | undefined;
  /** The next N history reads fail as if NATS were electing a leader. */
  unavailableReads = 0;
  hubHandler!: BrokerHandler;

  constructor(historySize = 100, now?: () => number) {
    super({ historySize, historyTtlMs: 60_000, sweepIntervalMs: 0, ...(now ? { now } : {}) });
  }
  override setHandler(handler: BrokerHandler): void {
    this.hubHandler = handler;
    super.setHandler({ onPublication: (p) => (this.dropLive ? undefined : handler.onPublication(p)) });
  }
  override async subscribe(channel: string) {
    this.subscribeCalls.push(channel);
    return super.subscribe(channel);
  }
  override async unsubscribe(channel: string) {
    this.unsubscribeCalls.push(channel);
    return super.unsubscribe(channel);
  }
  override async position(channel: string): Promise<StreamPosition> {
    const position = await super.position(channel);
    if (this.positionGate) await this.positionGate;
    return position;
  }
  override async history(channel: string, query?: HistoryQuery): Promise<HistoryPage> {
    if (this.unavailableReads > 0) {
      this.unavailableReads -= 1;
      throw new BrokerUnavailableError('no stream leader');
    }
    const page = await super.history(channel, query);
    if (this.historyGate) await this.historyGate;
    return page;
  }
}

export function recorder(hub: Hub, codecName = 'test') {
  const encoded: number[] = [];
  const codec = hub.codec(codecName, (p: Publication) => {
    encoded.push(p.offset);
    return `frame-${p.offset}`;
  });
  const make = () => {
    const sub = {
      codec,
      results: [] as SubscribeResult[],
      pubs: [] as Publication[],
      frames: [] as string[],
      lost: [] as string[],
      onSubscribed: (r: SubscribeResult) => sub.results.push(r),
      onPublication: (f: string, p: Publication) => {
        sub.frames.push(f);
        sub.pubs.push(p);
      },
      onUnrecoverable: (c: string) => sub.lost.push(c),
    } satisfies Subscriber<string> & Record<string, unknown>;
    return sub;
  };
  return { encoded, make };
}

export const offsets = (pubs: Publication[]) => pubs.map((p) => p.offset);

/** A hub over a lossy memory broker (on the hub's clock, when it is given one), and a maker of recording subscribers. */
export function setup(historySize?: number, options: HubOptions = {}) {
  const broker = new LossyBroker(historySize, options.now);
  const hub = new Hub(broker, { logger: memoryLogger(), gapRetryDelayMs: 1, ...options });
  return { broker, hub, ...recorder(hub) };
}
