import { setTimeout as sleep } from 'node:timers/promises';
import type { JsonData, PresenceEntry, Publication, StreamPosition, SubscribeResult } from '../../contract/index.js';
import {
  type Broker,
  BrokerUnavailableError,
  type HistoryPage,
  type HistoryQuery,
  type PublishOptions,
  UnrecoverablePositionError,
  isEmptyEpoch,
} from '../broker/broker.js';
import { type ChannelEntry, channelPositions, deliverOne, presenceOf, resumeFrom, subscriberCounts } from './channel-entry.js';
import { type Codec, CodecRegistry, type DeliveryTally, FrameCache } from './codec.js';
import { BrokerInterest } from './interest.js';
import { type Logger, consoleLogger } from '../logger.js';
import type { HubOptions } from './options.js';
import { RecentWindow } from './recent.js';
import { type StartingPoint, startFromWindow, startingPoint } from './starting-point.js';
import type { Subscriber } from './subscriber.js';

export type { HubOptions } from './options.js';

/** A subscription from a position: did it continue without a gap (recovered) or not. */
function countRecovery(sub: Subscriber, result: SubscribeResult): void {
  if (result.recovered) sub.codec.tally.recovered += 1;
  else sub.codec.tally.unrecovered += 1;
}

export class SubscriptionAbortedError extends Error {
  override readonly name = 'SubscriptionAbortedError';
}

/**
 * The hub owns the local channel → subscribers registry. It subscribes a channel at the
 * broker on its first local subscriber and unsubscribes after its last, merges recovery
 * backlogs with live traffic by offset, and fans each publication out encoded once per codec.
 */
export class Hub {
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly interest: BrokerInterest;
  private readonly codecs = new CodecRegistry();
  private readonly frames = new FrameCache();
  private readonly maxPending: number;
  private readonly logger: Pick<Logger, 'warn'>;
  private readonly nodeId: string;
  private readonly presenceEvents: (channel: string) => boolean;
  private readonly now: () => number;
  private readonly gapRetries: number;
  private readonly gapRetryDelayMs: number;
  private readonly lingerMs: number;
  private readonly recentSize: number;
  private readonly historySize: number;
  private readonly historyTtlMs: number;
  private readonly occupancy: ((channel: string, occupied: boolean) => void) | undefined;

  constructor(
    readonly broker: Broker,
    options: HubOptions = {},
  ) {
    this.maxPending = options.maxPendingPerSubscriber ?? 10_000;
    this.logger = options.logger ?? consoleLogger;
    this.nodeId = options.nodeId ?? 'local';
    this.presenceEvents = options.presenceEvents ?? (() => false);
    this.now = options.now ?? Date.now;
    this.gapRetries = options.gapRetries ?? 4;
    this.gapRetryDelayMs = options.gapRetryDelayMs ?? 250;
    this.lingerMs = options.lingerMs ?? 2000;
    this.historySize = options.historySize ?? 100;
    this.historyTtlMs = options.historyTtlMs ?? 300_000;
    this.recentSize = Math.min(options.recentSize ?? 128, this.historySize);
    this.occupancy = options.occupancy;
    this.interest = new BrokerInterest(broker, (m, e) => this.logger.warn(m, e));
    broker.setHandler({
      onPublication: (pub) => this.onBrokerPublication(pub),
      onGap: (channel) => {
        const entry = this.channels.get(channel);
        if (entry && !entry.resync) void this.fillGap(entry, []);
      },
    });
  }

  codec<F>(name: string, encode: (pub: Publication) => F, bytes?: (frame: F) => number): Codec<F> {
    return this.codecs.register(name, encode, bytes);
  }

  /** Each transport's delivery tally (metrics and node stats read them; never reset). */
  tallies(): Array<{ transport: string; tally: Readonly<DeliveryTally> }> {
    return this.codecs.list().map((c) => ({ transport: c.name, tally: c.tally }));
  }

  publish(channel: string, data: JsonData, options?: PublishOptions): Promise<Publication> {
    return this.broker.publish(channel, data, options);
  }

  history(channel: string, query?: HistoryQuery): Promise<HistoryPage> {
    return this.broker.history(channel, query);
  }

  /**
   * Subscribes and calls `sub.onSubscribed` then `sub.onPublication` for every missed publication
   * (when `since` is recoverable) and every live one after it, in offset order, with no duplicate.
   */
  async subscribe(channel: string, sub: Subscriber, since?: StreamPosition): Promise<SubscribeResult> {
    const entry = this.entry(channel);
    const buffer: Publication[] = [];
    entry.pending.set(sub, buffer);
    try {
      await entry.ready;
      const start = await startingPoint(this.broker, entry, since, this.now());
      const { result } = start;
      let backlog = start.backlog;
      if (entry.pending.get(sub) !== buffer) throw new SubscriptionAbortedError(`unsubscribed from ${channel} while subscribing`);
      if (since) countRecovery(sub, result);
      sub.onSubscribed(result);
      let last: StreamPosition = { epoch: result.epoch, offset: result.offset };
      for (;;) {
        for (const pub of backlog) last = deliverOne(sub, pub, last, this.frames);
        // Live publications that arrived meanwhile: drop what the backlog had, stop at a hole.
        for (let from = buffer[0] && resumeFrom(last, buffer[0]); from && buffer[0]!.offset <= from.offset + 1; ) {
          last = deliverOne(sub, buffer.shift()!, from, this.frames);
          from = buffer[0] && resumeFrom(last, buffer[0]);
        }
        if (buffer.length === 0) break;
        const from = resumeFrom(last, buffer[0]!);
        if (!from) {
          // History was reset under us: our position means nothing any more.
          entry.pending.delete(sub);
          this.release(entry);
          sub.onUnrecoverable(channel);
          return result;
        }
        // A hole between backlog and live traffic: read it from history.
        backlog = (await this.broker.history(channel, { since: from })).publications;
        if (entry.pending.get(sub) !== buffer) throw new SubscriptionAbortedError(`unsubscribed from ${channel} while subscribing`);
      }
      // A subscriber can leave from inside its own callbacks (an SSE stream dropped as a slow consumer
      // by its backlog): its unsubscribe has run, so it must not become live after it, for good.
      if (entry.pending.get(sub) !== buffer) throw new SubscriptionAbortedError(`unsubscribed from ${channel} while subscribing`);
      entry.pending.delete(sub);
      entry.live.set(sub, this.now());
      entry.last ??= last;
      this.occupy(entry);
      this.announce(channel, sub, 'join');
      return result;
    } catch (err) {
      if (entry.pending.get(sub) === buffer) entry.pending.delete(sub);
      this.release(entry);
      if (err instanceof UnrecoverablePositionError) {
        sub.onUnrecoverable(channel);
        throw new SubscriptionAbortedError(`history of ${channel} moved on while subscribing`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * What a subscription from `since` would start with (subscribe()'s onSubscribed result and backlog),
   * when the hub can tell at once: it follows the channel and its recent window holds everything
   * after `since`. Nothing is registered: a long-poll with news answers from this without
   * subscribing. Undefined when only subscribe() can tell (the broker must be asked).
   */
  catchUp(channel: string, since: StreamPosition | undefined): StartingPoint | undefined {
    const entry = this.channels.get(channel);
    if (!entry?.following) return undefined;
    const now = this.now();
    const start = startFromWindow(entry, since, now);
    // Used like a subscribe and unsubscribe would: a lingering channel stays followed lingerMs from now.
    if (start && entry.linger) entry.touched = now;
    return start;
  }

  /**
   * subscribe(), done synchronously when the subscription starts at the channel's head (nothing to
   * catch up on: a long-poll that will wait); undefined, with nothing done, when it does not.
   */
  subscribeNow(channel: string, sub: Subscriber, since: StreamPosition | undefined): SubscribeResult | undefined {
    const entry = this.channels.get(channel);
    if (!entry?.following) return undefined;
    const start = startFromWindow(entry, since, this.now());
    if (!start || start.backlog.length > 0) return undefined;
    // entry() of a followed channel only cancels its linger: it has a subscriber again.
    this.entry(channel);
    // Pending during onSubscribed, as in subscribe(): a subscriber may leave, or publish, from inside it.
    const buffer: Publication[] = [];
    entry.pending.set(sub, buffer);
    if (since) countRecovery(sub, start.result);
    sub.onSubscribed(start.result);
    if (entry.pending.get(sub) !== buffer) {
      this.release(entry);
      throw new SubscriptionAbortedError(`unsubscribed from ${channel} while subscribing`);
    }
    entry.pending.delete(sub);
    let last: StreamPosition = start.result;
    for (const pub of buffer) {
      const from = resumeFrom(last, pub);
      // Live traffic continues the head; a new generation (dropLive) cannot be caught up, as in subscribe().
      if (!from || pub.offset > from.offset + 1) {
        this.release(entry);
        sub.onUnrecoverable(channel);
        return start.result;
      }
      last = deliverOne(sub, pub, from, this.frames);
    }
    entry.live.set(sub, this.now());
    this.occupy(entry);
    this.announce(channel, sub, 'join');
    return start.result;
  }

  /** Hands a catchUp() answer to `sub` as subscribe() would: its result, then its backlog in order. */
  deliverStart(sub: Subscriber, start: StartingPoint, fromPosition: boolean): void {
    if (fromPosition) countRecovery(sub, start.result);
    sub.onSubscribed(start.result);
    let last: StreamPosition = start.result;
    for (const pub of start.backlog) last = deliverOne(sub, pub, last, this.frames);
  }

  unsubscribe(channel: string, sub: Subscriber): boolean {
    const entry = this.channels.get(channel);
    if (!entry) return false;
    const wasLive = entry.live.delete(sub);
    const removed = wasLive || entry.pending.delete(sub);
    this.release(entry);
    if (wasLive) this.announce(channel, sub, 'leave');
    return removed;
  }

  /** This node's subscribers of a channel that have an identity (long-lived connections). */
  presence(channel: string): PresenceEntry[] {
    const entry = this.channels.get(channel);
    return entry ? presenceOf(entry, this.nodeId) : [];
  }

  private occupy(entry: ChannelEntry): void {
    if (entry.occupied) return;
    entry.occupied = true;
    this.occupancy?.(entry.name, true);
  }

  private announce(channel: string, sub: Subscriber, type: 'join' | 'leave'): void {
    const id = sub.identity;
    // Only identified users: anonymous subscribe/unsubscribe churn must not push real messages out of history.
    if (!id || id.user === null || id.hidden || !this.presenceEvents(channel)) return;
    // The user's public info (from the token) rides along, so a page can name who came and went
    // without the presence API, which takes an API key.
    const info = id.info?.(channel);
    const data = { type, client: id.client, user: id.user, node: this.nodeId, ...(info === undefined ? {} : { info }) };
    this.broker.publish(channel, data, { tags: { hubbub: type } }).catch((err) => this.logger.warn(`${type} publication to ${channel} failed`, err));
  }

  /** Channels with local subscribers and their counts. */
  channelCounts(): Array<{ channel: string; subscribers: number }> {
    return subscriberCounts(this.channels.values());
  }

  /** Channels with local subscribers, their counts and last delivered position (sampled, never per delivery). */
  channelPositions(): ReturnType<typeof channelPositions> {
    return channelPositions(this.channels.values());
  }

  get subscriptionCount(): number {
    return subscriberCounts(this.channels.values()).reduce((n, c) => n + c.subscribers, 0);
  }

  /** Channels with at least one local subscriber. */
  get channelCount(): number {
    return subscriberCounts(this.channels.values()).length;
  }

  /** Channels the hub follows at the broker, lingering ones included. */
  get followedCount(): number {
    return this.channels.size;
  }

  /** Stops following the channels it only lingers on, and waits for the broker calls queued so far (shutdown, tests). */
  async stopLingering(): Promise<void> {
    for (const entry of [...this.channels.values()]) {
      if (entry.linger) {
        clearTimeout(entry.linger);
        entry.linger = undefined;
        this.unfollow(entry);
      }
    }
    await this.interest.idle();
  }

  private entry(channel: string): ChannelEntry {
    let entry = this.channels.get(channel);
    if (!entry) {
      const created: ChannelEntry = {
        name: channel,
        live: new Map(),
        pending: new Map(),
        ready: Promise.resolve(),
        following: false,
        touched: 0,
        last: undefined,
        resync: undefined,
        linger: undefined,
        recent: new RecentWindow(this.recentSize, { size: this.historySize, ttlMs: this.historyTtlMs }),
        occupied: false,
      };
      created.ready = this.interest.follow(channel).then(() => void (created.following = true));
      entry = created;
      this.channels.set(channel, entry);
    } else if (entry.linger) {
      clearTimeout(entry.linger);
      entry.linger = undefined;
    }
    return entry;
  }

  private release(entry: ChannelEntry): void {
    if (entry.live.size > 0 || entry.pending.size > 0) return;
    if (this.channels.get(entry.name) !== entry || entry.linger) return;
    if (this.lingerMs <= 0) return this.unfollow(entry);
    this.linger(entry, this.lingerMs);
  }

  private linger(entry: ChannelEntry, ms: number): void {
    entry.linger = setTimeout(() => {
      entry.linger = undefined;
      if (entry.live.size > 0 || entry.pending.size > 0) return;
      // Catch-ups answered meanwhile (catchUp) count as uses, as a subscribe and unsubscribe would.
      const left = entry.touched + this.lingerMs - this.now();
      if (left > 0) this.linger(entry, left);
      else this.unfollow(entry);
    }, ms);
    entry.linger.unref();
  }

  private unfollow(entry: ChannelEntry): void {
    if (this.channels.get(entry.name) !== entry) return;
    this.channels.delete(entry.name);
    this.interest.unfollow(entry.name);
    if (entry.occupied) this.occupancy?.(entry.name, false);
  }

  private onBrokerPublication(pub: Publication): void {
    const entry = this.channels.get(pub.channel);
    if (!entry) return;
    if (entry.resync) {
      // Past the cap, drop: the replay after the resync finds the hole and reads it from history.
      if (entry.resync.length < this.maxPending) entry.resync.push(pub);
      return;
    }
    const from = entry.last && resumeFrom(entry.last, pub);
    if (from) {
      if (pub.offset <= from.offset) return;
      if (pub.offset > from.offset + 1) {
        void this.fillGap(entry, [pub]);
        return;
      }
    } else if (entry.last) {
      // A new epoch: the history the live subscribers were following is gone.
      this.dropLive(entry);
    }
    this.accept(entry, pub);
  }

  private accept(entry: ChannelEntry, pub: Publication): void {
    entry.recent.push(pub, entry.last);
    entry.last = pub;
    for (const [sub, buffer] of entry.pending) {
      if (buffer.length >= this.maxPending) {
        entry.pending.delete(sub);
        sub.onUnrecoverable(entry.name);
      } else buffer.push(pub);
    }
    // One frame per codec for this publication, shared by all its subscribers and later catch-ups.
    const frames = this.frames.of(pub);
    this.codecs.beginFanOut();
    for (const sub of entry.live.keys()) {
      const codec = sub.codec;
      let frame = frames[codec.slot];
      if (frame === undefined) frame = frames[codec.slot] = codec.encode(pub);
      // The only counting per delivery: bytes are added once per codec by endFanOut.
      codec.tally.deliveries++;
      sub.onPublication(frame, pub);
    }
    this.codecs.endFanOut(frames);
  }

  /** The broker skipped offsets: read the hole from history, then replay what arrived meanwhile. */
  private async fillGap(entry: ChannelEntry, held: Publication[]): Promise<void> {
    entry.resync = held;
    try {
      if (entry.last) {
        const page = await this.readGap(entry.name, entry.last, held[0]);
        for (const pub of page.publications) {
          if (this.channels.get(entry.name) !== entry) return;
          // The page is in one epoch: entry.last's, or the first generation's after an empty position.
          if (isEmptyEpoch(entry.last!.epoch) || pub.offset > entry.last!.offset) this.accept(entry, pub);
        }
      }
    } catch (err) {
      if (!(err instanceof UnrecoverablePositionError)) this.logger.warn(`gap recovery of ${entry.name} failed`, err);
      this.dropLive(entry);
      entry.last = err instanceof UnrecoverablePositionError ? err.current : undefined;
      entry.recent.reset();
    }
    const replay = entry.resync ?? [];
    entry.resync = undefined;
    for (const pub of replay) this.onBrokerPublication(pub);
  }

  /**
   * What follows `last`. After an empty position, a held publication (live, so the hub followed the
   * channel into its generation) is read from offset 0 of its epoch (resumeFrom); on a bare onGap the
   * hub may have missed anything, so the broker decides from the empty position itself: it refuses
   * when a generation was lost before the current one (broker.ts recoverableFromEmpty).
   */
  private async readGap(channel: string, last: StreamPosition, held: Publication | undefined): Promise<HistoryPage> {
    return this.historyWithRetry(channel, held ? (resumeFrom(last, held) ?? last) : last);
  }

  /** History can be briefly unavailable (a NATS failover electing leaders): retry before dropping anyone. */
  private async historyWithRetry(channel: string, since: StreamPosition): Promise<HistoryPage> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.broker.history(channel, { since });
      } catch (err) {
        if (!(err instanceof BrokerUnavailableError) || attempt >= this.gapRetries) throw err;
        await sleep(this.gapRetryDelayMs * 2 ** attempt);
      }
    }
  }

  private dropLive(entry: ChannelEntry): void {
    const subs = [...entry.live.keys()];
    entry.live.clear();
    for (const sub of subs) sub.onUnrecoverable(entry.name);
    this.release(entry);
  }
}
