import type { Publication, StreamPosition, SubscribeResult } from '../../contract/index.js';
import { type Broker, UnrecoverablePositionError } from '../broker/broker.js';
import type { ChannelEntry } from './channel-entry.js';

/** Where a new subscription starts, and what it must be sent first to catch up from `since`. */
export interface StartingPoint {
  result: SubscribeResult;
  backlog: Publication[];
}

/**
 * While the hub follows a channel live, its position is current and its recent publications are
 * contiguous: a subscriber asking from within them (a long-poll a few offsets behind, a quick
 * reconnect) needs no broker round trip; newer ones reach its pending buffer live. Otherwise the
 * broker answers: the history after `since`, or where the channel is now (recovered: false).
 */
export async function startingPoint(
  broker: Broker,
  entry: ChannelEntry,
  since: StreamPosition | undefined,
  now: number,
): Promise<StartingPoint> {
  const channel = entry.name;
  const local = startFromWindow(entry, since, now);
  if (local) return local;
  if (!since) return { backlog: [], result: { channel, ...(await broker.position(channel)), recovered: false } };
  try {
    const backlog = (await broker.history(channel, { since })).publications;
    return { backlog, result: { channel, epoch: since.epoch, offset: since.offset, recovered: true } };
  } catch (err) {
    if (!(err instanceof UnrecoverablePositionError)) throw err;
    return { backlog: [], result: { channel, ...err.current, recovered: false } };
  }
}

/**
 * The starting point the hub knows without asking the broker (see above), or undefined. Synchronous:
 * the long-poll's fast path (Hub.catchUp, Hub.subscribeNow) and startingPoint share it, so both
 * answer alike.
 */
export function startFromWindow(entry: ChannelEntry, since: StreamPosition | undefined, now: number): StartingPoint | undefined {
  const known = entry.resync ? undefined : entry.last;
  if (!known) return undefined;
  const channel = entry.name;
  if (!since) return { backlog: [], result: { channel, epoch: known.epoch, offset: known.offset, recovered: false } };
  const cached = entry.recent.since(since, known, now);
  return cached && { backlog: cached, result: { channel, epoch: since.epoch, offset: since.offset, recovered: true } };
}
