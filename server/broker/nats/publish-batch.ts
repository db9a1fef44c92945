// What waits in a channel's publish lane (OffsetAppender) and how one batch message is taken from
// the front of it; the extras a stored publication gets back.
import type { JsonData, Publication } from '../../../contract/index.js';
import type { EntryExtras } from './codec.js';

/**
 * Publications stored in one message at most. A subject keeps historySize messages, so a batch
 * multiplies what the stream may hold per channel: kept small, as bursts behind one append rarely
 * exceed the publishes in flight.
 */
export const BATCH_MAX = 32;

/** What a publication carries besides its data: its event name, tags, and the publisher a client publish is stamped with. */
export type PublicationExtras = EntryExtras;

/** In the order toPublication (codec.ts) decodes them, so a publication reads the same live and from history. */
export function withExtras(pub: Publication, extras: PublicationExtras): void {
  if (extras.event !== undefined) pub.event = extras.event;
  if (extras.tags) pub.tags = extras.tags;
  if (extras.publisher) pub.publisher = extras.publisher;
}

/** A publish waiting for its channel's append in flight. */
export interface Queued {
  data: JsonData;
  extras: PublicationExtras;
  key: string | undefined;
  /** Its stored JSON body (encodeEntry); unkeyed publishes only. */
  entry: string;
  resolve(pub: Publication): void;
  reject(err: unknown): void;
}

/** What one append stores: a batch's publishes, or a keyed one alone. */
export type AppendItem = Pick<Queued, 'data' | 'extras' | 'entry'>;

/** The unkeyed publishes at the front of the lane, up to BATCH_MAX and well under max_payload. */
export function takeBatch(lane: Queued[], maxPayload: number): Queued[] {
  // Room for the headers, and for the ones the stream's republish adds.
  const budget = Math.floor(maxPayload / 2);
  let n = 1;
  let bytes = Buffer.byteLength(lane[0]!.entry);
  while (n < lane.length && n < BATCH_MAX && lane[n]!.key === undefined) {
    const size = Buffer.byteLength(lane[n]!.entry) + 1;
    if (bytes + size > budget) break;
    bytes += size;
    n++;
  }
  return lane.splice(0, n);
}
