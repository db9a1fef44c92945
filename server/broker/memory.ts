import { randomBytes } from 'node:crypto';
import type { JsonData, Publication, StreamPosition } from '../../contract/index.js';
import {
  type Broker,
  type BrokerHandler,
  type HistoryPage,
  type HistoryQuery,
  type PublishOptions,
  UnrecoverablePositionError,
  isRecoverable,
} from './broker.js';

export interface MemoryBrokerOptions {
  historySize: number;
  historyTtlMs: number;
  idempotencyWindowMs?: number;
  now?: () => number;
  /** How often expired history and idle streams are swept; 0 disables the timer (call sweep() yourself). */
  sweepIntervalMs?: number;
}

interface Stream {
  epoch: string;
  offset: number;
  /** Ring buffer of the retained publications, oldest at `head`. */
  ring: Array<Publication | undefined>;
  head: number;
  size: number;
  subscribed: boolean;
  idempotency: Map<string, { pub: Publication; expires: number }> | undefined;
}

export function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/** The embedded broker for a single node: history in memory, fan-out in process. */
export class MemoryBroker implements Broker {
  readonly kind = 'memory';
  private handler: BrokerHandler | undefined;
  private readonly streams = new Map<string, Stream>();
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MemoryBrokerOptions) {
    this.now = options.now ?? Date.now;
    const every = options.sweepIntervalMs ?? 10_000;
    if (every > 0) {
      this.timer = setInterval(() => this.sweep(), every);
      this.timer.unref();
    }
  }

  setHandler(handler: BrokerHandler): void {
    this.handler = handler;
  }

  async publish(channel: string, data: JsonData, options: PublishOptions = {}): Promise<Publication> {
    const now = this.now();
    const stream = this.stream(channel);
    const key = options.idempotencyKey;
    if (key !== undefined) {
      const seen = stream.idempotency?.get(key);
      if (seen && seen.expires > now) return seen.pub;
    }
    this.expire(stream, now);
    stream.offset += 1;
    const pub: Publication = { channel, offset: stream.offset, epoch: stream.epoch, data, time: now };
    if (options.tags) pub.tags = options.tags;
    this.append(stream, pub);
    if (key !== undefined) {
      stream.idempotency ??= new Map();
      stream.idempotency.set(key, { pub, expires: now + (this.options.idempotencyWindowMs ?? 300_000) });
    }
    if (stream.subscribed) this.handler?.onPublication(pub);
    return pub;
  }

  async subscribe(channel: string): Promise<void> {
    this.stream(channel).subscribed = true;
  }

  async unsubscribe(channel: string): Promise<void> {
    const stream = this.streams.get(channel);
    if (stream) stream.subscribed = false;
  }

  async position(channel: string): Promise<StreamPosition> {
    const s = this.stream(channel);
    return { epoch: s.epoch, offset: s.offset };
  }

  async history(channel: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    const stream = this.stream(channel);
    this.expire(stream, this.now());
    const first = stream.offset - stream.size + 1;
    let from = first;
    if (query.since) {
      if (!isRecoverable(query.since, stream.epoch, first, stream.offset)) {
        throw new UnrecoverablePositionError(channel, query.since, { epoch: stream.epoch, offset: stream.offset });
      }
      from = query.since.offset + 1;
    }
    const all: Publication[] = [];
    for (let off = from; off <= stream.offset; off++) {
      all.push(stream.ring[(stream.head + (off - first)) % stream.ring.length]!);
    }
    if (query.reverse) all.reverse();
    const publications = query.limit !== undefined ? all.slice(0, query.limit) : all;
    return { publications, epoch: stream.epoch, offset: stream.offset };
  }

  /** Drops expired publications and idempotency keys, and forgets idle empty streams (their epoch goes with them). */
  sweep(): void {
    const now = this.now();
    for (const [channel, stream] of this.streams) {
      this.expire(stream, now);
      if (stream.idempotency) {
        for (const [k, v] of stream.idempotency) if (v.expires <= now) stream.idempotency.delete(k);
        if (stream.idempotency.size === 0) stream.idempotency = undefined;
      }
      if (stream.size === 0 && !stream.subscribed && !stream.idempotency) this.streams.delete(channel);
    }
  }

  get streamCount(): number {
    return this.streams.size;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.handler = undefined;
  }

  private stream(channel: string): Stream {
    let s = this.streams.get(channel);
    if (!s) {
      s = {
        epoch: newEpoch(),
        offset: 0,
        ring: new Array(Math.max(1, this.options.historySize)),
        head: 0,
        size: 0,
        subscribed: false,
        idempotency: undefined,
      };
      this.streams.set(channel, s);
    }
    return s;
  }

  private append(s: Stream, pub: Publication): void {
    if (this.options.historySize === 0) return;
    const cap = s.ring.length;
    if (s.size < cap) {
      s.ring[(s.head + s.size) % cap] = pub;
      s.size += 1;
    } else {
      s.ring[s.head] = pub;
      s.head = (s.head + 1) % cap;
    }
  }

  private expire(s: Stream, now: number): void {
    const cutoff = now - this.options.historyTtlMs;
    while (s.size > 0) {
      const oldest = s.ring[s.head]!;
      if (oldest.time > cutoff) break;
      s.ring[s.head] = undefined;
      s.head = (s.head + 1) % s.ring.length;
      s.size -= 1;
    }
  }
}
