import type { JsonData, Publication, StreamPosition } from '../../contract/index.js';
import {
  type Broker,
  type BrokerHandler,
  type HistoryPage,
  type HistoryQuery,
  type PublishOptions,
  DEFAULT_HISTORY_META_TTL_MS,
  UnrecoverablePositionError,
  canRecover,
  emptyEpoch,
  positionOnly,
  newEpoch,
} from './broker.js';

export interface MemoryBrokerOptions {
  historySize: number;
  historyTtlMs: number;
  /**
   * How long a channel's position (epoch + latest offset) is kept after its last publication, so a
   * client that missed nothing during a quiet spell still recovers. Default 30 days.
   */
  historyMetaTtlMs?: number;
  /** At most this many quiet channels' positions are kept; the oldest is forgotten first. Default 100,000. */
  historyMetaMaxChannels?: number;
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
  idempotency: Map<string, { pub: Publication; expires: number }> | undefined;
  /** Time of the last publication (or of the epoch's creation): the position is kept from then on. */
  touched: number;
}

/** What is left of a quiet channel once its publications expired. */
interface Position {
  epoch: string;
  offset: number;
  touched: number;
}

/** The embedded broker for a single node: history in memory, fan-out in process. */
export class MemoryBroker implements Broker {
  readonly kind = 'memory';
  /** In process: ready as long as it exists. */
  readonly ready = true;
  private handler: BrokerHandler | undefined;
  /** Channels published to, until a sweep finds them empty, unsubscribed and without idempotency keys. */
  private readonly streams = new Map<string, Stream>();
  /** Channels subscribed for live delivery: interest only, no stream (nothing is stored for them). */
  private readonly subscribed = new Set<string>();
  /** Positions of quiet channels, oldest first (the order they went quiet). */
  private readonly quiet = new Map<string, Position>();
  private readonly metaTtlMs: number;
  private readonly metaMax: number;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;
  /** Whatever this process held before it started is gone: an empty position seen earlier vouches for nothing. */
  private readonly startedAt: number;
  /** Latest last-publication time of a position evicted by the bound: its generation may have followed an empty position seen up to then. */
  private evictedUpTo = -Infinity;

  constructor(private readonly options: MemoryBrokerOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.metaTtlMs = Math.max(options.historyTtlMs, options.historyMetaTtlMs ?? DEFAULT_HISTORY_META_TTL_MS);
    this.metaMax = Math.max(0, options.historyMetaMaxChannels ?? 100_000);
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
    stream.touched = now;
    const pub: Publication = { channel, offset: stream.offset, epoch: stream.epoch, data, time: now };
    if (options.event !== undefined) pub.event = options.event;
    if (options.tags) pub.tags = options.tags;
    if (options.publisher) pub.publisher = options.publisher;
    this.append(stream, pub);
    if (key !== undefined) {
      stream.idempotency ??= new Map();
      stream.idempotency.set(key, { pub, expires: now + (this.options.idempotencyWindowMs ?? 300_000) });
    }
    if (this.subscribed.has(channel)) this.handler?.onPublication(pub);
    return pub;
  }

  async subscribe(channel: string): Promise<void> {
    this.subscribed.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
  }

  async position(channel: string): Promise<StreamPosition> {
    const s = this.streams.get(channel) ?? this.kept(channel);
    return { epoch: s.epoch, offset: s.offset };
  }

  async history(channel: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    const now = this.now();
    const stream = this.streams.get(channel);
    if (!stream) return positionOnly(channel, this.kept(channel), query.since, this.horizon(now));
    this.expire(stream, now);
    const first = stream.offset - stream.size + 1;
    let from = first;
    if (query.since) {
      const current = { epoch: stream.epoch, offset: stream.offset };
      const oldest = stream.size > 0 ? stream.ring[stream.head] : undefined;
      if (!canRecover(query.since, current, oldest, this.horizon(now))) throw new UnrecoverablePositionError(channel, query.since, current);
      // An empty position (offset 0) continues at offset 1 of the current generation.
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

  /**
   * Drops expired publications and idempotency keys, turns idle empty streams into kept positions,
   * and forgets positions older than the meta TTL (their epoch goes with them).
   */
  sweep(): void {
    const now = this.now();
    for (const [channel, stream] of this.streams) {
      this.expire(stream, now);
      if (stream.idempotency) {
        for (const [k, v] of stream.idempotency) if (v.expires <= now) stream.idempotency.delete(k);
        if (stream.idempotency.size === 0) stream.idempotency = undefined;
      }
      // A subscribed channel keeps its stream, so a quiet spell cannot evict its live subscribers' epoch.
      if (stream.size === 0 && !this.subscribed.has(channel) && !stream.idempotency) {
        this.streams.delete(channel);
        this.keep(channel, { epoch: stream.epoch, offset: stream.offset, touched: stream.touched }, now);
      }
    }
    for (const [channel, pos] of this.quiet) if (this.forgotten(pos, now)) this.quiet.delete(channel);
  }

  /** Channels with a stream in memory (publications or idempotency keys). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Quiet channels whose position is kept without a stream. */
  get quietCount(): number {
    return this.quiet.size;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.handler = undefined;
  }

  /** A channel without a stream: its kept position, or `0<now>:0` (read only: nothing is created). */
  private kept(channel: string): StreamPosition {
    const now = this.now();
    const kept = this.quiet.get(channel);
    return kept && !this.forgotten(kept, now) ? { epoch: kept.epoch, offset: kept.offset } : { epoch: emptyEpoch(now), offset: 0 };
  }

  /**
   * The earliest time an empty position may have been seen for this broker to vouch for what came
   * after it: later than the meta TTL ago (a generation that started after it is still kept), not
   * before this broker started, and later than the last position the bound evicted.
   */
  private horizon(now: number): number {
    return Math.max(now - this.metaTtlMs + 1, this.startedAt, this.evictedUpTo + 1);
  }

  /** The channel's stream, created by a publish: it goes on from the kept position, or starts a new epoch. */
  private stream(channel: string): Stream {
    let s = this.streams.get(channel);
    if (!s) {
      const now = this.now();
      const kept = this.quiet.get(channel);
      this.quiet.delete(channel);
      // The meta TTL counts from the last publication, not from the stream's creation.
      const resume = kept && !this.forgotten(kept, now) ? kept : undefined;
      s = {
        epoch: resume?.epoch ?? newEpoch(),
        offset: resume?.offset ?? 0,
        ring: new Array(Math.max(1, this.options.historySize)),
        head: 0,
        size: 0,
        idempotency: undefined,
        touched: resume?.touched ?? now,
      };
      this.streams.set(channel, s);
    }
    return s;
  }

  /** Past the bound the oldest kept position goes: its channel's next subscriber gets a new epoch, never a gap. */
  private keep(channel: string, pos: Position, now: number): void {
    if (this.forgotten(pos, now)) return;
    this.quiet.set(channel, pos);
    for (const [oldest, evicted] of this.quiet) {
      if (this.quiet.size <= this.metaMax) break;
      this.quiet.delete(oldest);
      this.evictedUpTo = Math.max(this.evictedUpTo, evicted.touched);
    }
  }

  private forgotten(pos: Position, now: number): boolean {
    return pos.touched + this.metaTtlMs <= now;
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
