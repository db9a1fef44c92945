import { setTimeout as sleep } from 'node:timers/promises';
import type { Publication, StreamPosition } from '../../contract/index.js';
import { type Broker, BrokerUnavailableError, type HistoryPage } from '../broker/broker.js';
import { resumeFrom } from './channel-entry.js';

// Reading from history the hole a broker gap left in a channel's live traffic (Hub.fillGap),
// retried while history is briefly unavailable.

/** How often and how soon a gap's history read is retried (HubOptions gapRetries, gapRetryDelayMs). */
export interface GapRetry {
  readonly retries: number;
  readonly delayMs: number;
}

/**
 * What follows `last`. After an empty position, a held publication (live, so the hub followed the
 * channel into its generation) is read from offset 0 of its epoch (resumeFrom); on a bare onGap the
 * hub may have missed anything, so the broker decides from the empty position itself: it refuses
 * when a generation was lost before the current one (broker.ts recoverableFromEmpty).
 */
export async function readGap(broker: Broker, channel: string, last: StreamPosition, held: Publication | undefined, retry: GapRetry): Promise<HistoryPage> {
  return historyWithRetry(broker, channel, held ? (resumeFrom(last, held) ?? last) : last, retry);
}

/** History can be briefly unavailable (a NATS failover electing leaders): retry before dropping anyone. */
async function historyWithRetry(broker: Broker, channel: string, since: StreamPosition, retry: GapRetry): Promise<HistoryPage> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await broker.history(channel, { since });
    } catch (err) {
      if (!(err instanceof BrokerUnavailableError) || attempt >= retry.retries) throw err;
      await sleep(retry.delayMs * 2 ** attempt);
    }
  }
}
