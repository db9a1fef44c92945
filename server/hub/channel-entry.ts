import type { PresenceEntry, Publication, StreamPosition } from '../../contract/index.js';
import { isEmptyEpoch } from '../broker/broker.js';
import type { FrameCache } from './codec.js';
import type { RecentWindow } from './recent.js';
import type { Subscriber } from './subscriber.js';

// One channel the hub follows: its subscribers, its position and what it holds while catching up.

export interface ChannelEntry {
  readonly name: string;
  /** Live subscribers → when their subscription started (for presence). */
  readonly live: Map<Subscriber, number>;
  /** Subscribers whose backlog is being read: live publications wait here, then merge by offset. */
  readonly pending: Map<Subscriber, Publication[]>;
  ready: Promise<void>;
  /** The broker subscription is in place (`ready` resolved): the hub's position is live. */
  following: boolean;
  /** Last catch-up answered from the window while lingering: the linger counts from then (Hub.catchUp). */
  touched: number;
  /** Last position delivered live; detects duplicates and gaps from the broker. */
  last: StreamPosition | undefined;
  /** Publications held while a gap is being filled from history. */
  resync: Publication[] | undefined;
  /** Set while the channel has no subscriber and waits out the linger before unfollowing. */
  linger: NodeJS.Timeout | undefined;
  recent: RecentWindow;
  /** Has had a live subscriber since the hub began following it (its occupied event went out). */
  occupied: boolean;
}

/**
 * Where the publications after `pub` continue `last` from: `last` itself within its epoch, and
 * offset 0 of pub's epoch after an empty position (a channel nobody had published to when the hub,
 * already following it at the broker, read its position: everything of its first generation comes
 * after). Undefined when `pub` belongs to another generation than `last`'s.
 */
export function resumeFrom(last: StreamPosition, pub: Publication): StreamPosition | undefined {
  if (isEmptyEpoch(last.epoch)) return { epoch: pub.epoch, offset: 0 };
  return pub.epoch === last.epoch ? last : undefined;
}

/** Hands `pub` to one subscriber unless it already had it; returns the subscriber's new position. */
export function deliverOne(sub: Subscriber, pub: Publication, last: StreamPosition, frames: FrameCache): StreamPosition {
  if (pub.epoch === last.epoch && pub.offset <= last.offset) return last;
  const codec = sub.codec;
  const frame = frames.frame(codec, pub);
  // Backlogs and catch-ups, off the live fan-out: each delivery counts its own bytes.
  codec.tally.deliveries += 1;
  codec.tally.bytes += codec.bytes(frame);
  sub.onPublication(frame, pub);
  return pub;
}

/** The entry's live subscribers that have an identity (long-lived connections), as presence lists them. */
export function presenceOf(entry: ChannelEntry, nodeId: string): PresenceEntry[] {
  const out: PresenceEntry[] = [];
  for (const [sub, since] of entry.live) {
    const id = sub.identity;
    if (!id || id.hidden) continue;
    const row: PresenceEntry = { client: id.client, user: id.user, node: nodeId, transport: id.transport, since };
    const info = id.info?.(entry.name);
    if (info !== undefined) row.info = info;
    out.push(row);
  }
  return out;
}

/** Channels with subscribers (live or still recovering) and how many. */
export function subscriberCounts(entries: Iterable<ChannelEntry>): Array<{ channel: string; subscribers: number }> {
  const out: Array<{ channel: string; subscribers: number }> = [];
  for (const e of entries) {
    const subscribers = e.live.size + e.pending.size;
    if (subscribers > 0) out.push({ channel: e.name, subscribers });
  }
  return out;
}

/** Channels with subscribers, how many, and the last offset delivered (the admin dashboard's rates come from it). */
export function channelPositions(entries: Iterable<ChannelEntry>): Array<{ channel: string; subscribers: number; epoch: string; offset: number }> {
  const out: Array<{ channel: string; subscribers: number; epoch: string; offset: number }> = [];
  for (const e of entries) {
    const subscribers = e.live.size + e.pending.size;
    if (subscribers > 0) out.push({ channel: e.name, subscribers, epoch: e.last?.epoch ?? '', offset: e.last?.offset ?? 0 });
  }
  return out;
}
