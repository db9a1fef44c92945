// The hub: subscribing (recovery from a position, the long-poll fast paths), the broker's live
// traffic with its gap recovery, and the fan-out, on top of the channel registry it extends.

import type { JsonData, Publication, StreamPosition, SubscribeResult } from '../../contract/index.js';
import {
  type Broker,
  type HistoryPage,
  type HistoryQuery,
  type PublishOptions,
  UnrecoverablePositionError,
  isEmptyEpoch,
} from '../broker/broker.js';
import { type ChannelEntry, deliverOne, resumeFrom } from './channel-entry.js';
import { ChannelRegistry } from './channel-registry.js';
import { type Codec, CodecRegistry, type DeliveryTally, FrameCache } from './codec.js';
import { type GapRetry, readGap } from './gap-read.js';
import type { HubOptions } from './options.js';
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
 * The hub owns the local channel → subscribers registry (channel-registry.ts: it follows a channel
 * at the broker on its first local subscriber and unfollows after its last). It merges recovery
 * backlogs with live traffic by offset, and fans each publication out encoded once per codec.
 */
export class Hub extends ChannelRegistry {
  private readonly codecs = new CodecRegistry();
  private readonly frames = new FrameCache();
  private readonly maxPending: number;
  private readonly gapRetry: GapRetry;

  constructor(broker: Broker, options: HubOptions = {}) {
    super(broker, options);
    this.maxPending = options.maxPendingPerSubscriber ?? 10_000;
    this.gapRetry = { retries: options.gapRetries ?? 4, delayMs: options.gapRetryDelayMs ?? 250 };
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
        const page = await readGap(this.broker, entry.name, entry.last, held[0], this.gapRetry);
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

  private dropLive(entry: ChannelEntry): void {
    const subs = [...entry.live.keys()];
    entry.live.clear();
    for (const sub of subs) sub.onUnrecoverable(entry.name);
    this.release(entry);
  }
}
