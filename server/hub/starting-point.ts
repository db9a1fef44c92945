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
  const known = entry.resync ? undefined : entry.last;
  const cached = since && known ? entry.recent.since(since, known, now) : undefined;
  if (since && cached) return { backlog: cached, result: { channel, epoch: since.epoch, offset: since.offset, recovered: true } };
  if (!since && known) return { backlog: [], result: { channel, epoch: known.epoch, offset: known.offset, recovered: false } };
  if (!since) return { backlog: [], result: { channel, ...(await broker.position(channel)), recovered: false } };
  try {
    const backlog = (await broker.history(channel, { since })).publications;
    return { backlog, result: { channel, epoch: since.epoch, offset: since.offset, recovered: true } };
  } catch (err) {
    if (!(err instanceof UnrecoverablePositionError)) throw err;
    return { backlog: [], result: { channel, ...err.current, recovered: false } };
  }
}
