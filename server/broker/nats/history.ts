import type { Publication } from '../../../contract/index.js';
import {
  EMPTY_SKEW_MS,
  type HistoryPage,
  type HistoryQuery,
  UnrecoverablePositionError,
  isEmptyEpoch,
  isRecoverable,
  positionOnly,
  recoverableFromEmpty,
} from '../broker.js';
import { type DecodedMessage, type Head, Header, NatsDecodeError, decodeMessage, isSeal, sealPrevSeq } from './codec.js';
import { type EpochRecords, channelState } from './epochs.js';
import { isUnavailable } from './errors.js';
import type { ChannelStore, RawMessage } from './store.js';

export interface HistoryReader {
  store: ChannelStore;
  epochs: EpochRecords;
  historySize: number;
  /** JetStream may keep publications longer (see ChannelStore.retentionMs): older ones are not served. */
  historyTtlMs: number;
  now(): number;
  /** Up to this many missing publications are read one by one backwards; more go through a consumer. */
  walkLimit: number;
  /** Until this time (ms) long reads walk too: the consumer path failed recently. */
  consumers: { downUntil: number };
}

const CONSUMER_BACKOFF_MS = 30_000;

/** history() of the Broker interface over the channel's stored messages. */
export async function readHistory(r: HistoryReader, channel: string, query: HistoryQuery): Promise<HistoryPage> {
  const asked = query.since;
  const found = await channelState(r.store, r.epochs, channel);
  // A generation that started after an empty position was seen is still recorded if it started
  // after this (its record lives the meta TTL; the skew allowance covers this node's clock and
  // the server's, which times the record, against the observer's).
  const horizon = r.now() - r.store.limits.metaTtlMs + 2 * EMPTY_SKEW_MS;
  // Nothing stored: the position is the epoch record's (a closed generation's last offset), or empty.
  if (found.kind === 'empty') return positionOnly(channel, { epoch: found.epoch, offset: found.offset }, asked, horizon);
  const { head, msg } = found;
  const current = { epoch: head.epoch, offset: head.offset };
  let since = asked;
  if (since && isEmptyEpoch(since.epoch)) {
    // Recoverable from offset 1 of the head's generation, or not at all.
    if (!recoverableFromEmpty(since, current, await firstOfGeneration(r, channel, head), horizon)) {
      throw new UnrecoverablePositionError(channel, since, current);
    }
    since = { epoch: head.epoch, offset: 0 };
  }
  if (since && (since.epoch !== head.epoch || since.offset > head.offset)) {
    throw new UnrecoverablePositionError(channel, asked ?? since, current);
  }
  const wanted = since ? head.offset - since.offset : r.historySize;
  let pubs: Publication[] = [];
  if (wanted > 0) {
    pubs =
      wanted <= r.walkLimit || r.now() < r.consumers.downUntil
        ? await walkBack(r, channel, head, msg, wanted)
        : // A consumer needs the meta leader, and nats-server 2.9 may place it on a dead stream peer
          // (nats-server#7165); the walk only needs the stream.
          await readRetained(r, channel, head, Math.min(wanted, r.historySize)).catch((err: unknown) => {
            if (!isUnavailable(err)) throw err;
            r.consumers.downUntil = r.now() + CONSUMER_BACKOFF_MS;
            return walkBack(r, channel, head, msg, wanted);
          });
  }
  if (pubs.length > r.historySize) pubs = pubs.slice(pubs.length - r.historySize);
  const cutoff = r.now() - r.historyTtlMs;
  const fresh = pubs.findIndex((p) => p.time > cutoff);
  pubs = fresh < 0 ? [] : pubs.slice(fresh);
  const first = pubs[0]?.offset ?? head.offset + 1;
  if (since && !isRecoverable(since, head.epoch, first, head.offset)) {
    throw new UnrecoverablePositionError(channel, asked ?? since, current);
  }
  const after = since?.offset ?? 0;
  let out = since ? pubs.filter((p) => p.offset > after) : pubs;
  if (query.reverse) out = out.reverse();
  if (query.limit !== undefined) out = out.slice(0, query.limit);
  return { publications: out, ...current };
}

/**
 * Offset 1 of the head's generation with its JetStream (server) time, when it is the subject's
 * oldest retained message and marked as the channel's first known generation (Header.first);
 * undefined otherwise, and without a read when history cannot hold offset 1 any more.
 */
async function firstOfGeneration(r: HistoryReader, channel: string, head: Head): Promise<{ offset: number; time: number } | undefined> {
  if (head.offset > r.historySize) return undefined;
  const m = await r.store.first(r.store.space.history(channel));
  if (!m || isSeal(m.headers) || m.headers?.get(Header.first) !== '1') return undefined;
  const pub = decode(channel, m).pubs[0]!;
  return pub.epoch === head.epoch && pub.offset === 1 ? { offset: 1, time: m.time } : undefined;
}

function decode(channel: string, m: RawMessage): DecodedMessage {
  try {
    return decodeMessage(channel, m.headers, m.data);
  } catch (cause) {
    throw new NatsDecodeError(`stream sequence ${m.seq}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Follows the Prev-Seq links from the head: one direct read per message (a publication or a
 * batch of them), cheap when a client is only a few publications behind. Retention removes a channel's oldest messages
 * first, so the first missing link is where the retained history starts. A seal on the way
 * (seal.ts) repeats the position of the publication before it and is stepped over.
 */
async function walkBack(r: HistoryReader, channel: string, head: Head, msg: RawMessage, count: number): Promise<Publication[]> {
  const out: Publication[] = [];
  let cur: RawMessage | null = msg;
  let offset = head.offset;
  while (cur && cur.subject === msg.subject) {
    let prevSeq: number;
    if (isSeal(cur.headers)) {
      prevSeq = sealPrevSeq(cur.headers!);
    } else {
      const { pubs, prevSeq: before } = decode(channel, cur);
      const last = pubs[pubs.length - 1]!;
      if (last.epoch !== head.epoch || last.offset !== offset) break;
      for (let i = pubs.length - 1; i >= 0 && out.length < count; i--) out.push(pubs[i]!);
      if (out.length >= count) break;
      offset = pubs[0]!.offset - 1;
      prevSeq = before;
    }
    cur = prevSeq > 0 ? await r.store.bySeq(prevSeq) : null;
  }
  return out.reverse();
}

/**
 * The retained publications up to the head, oldest first, as one contiguous run ending at the head;
 * of those older than the newest `count`, only the batch holding the oldest needed one is decoded
 * (a subject keeps historySize messages, which batches can make many more publications).
 */
async function readRetained(r: HistoryReader, channel: string, head: Head, count: number): Promise<Publication[]> {
  const msgs = await r.store.retained(r.store.space.history(channel));
  const from = head.offset - count + 1;
  const pubs = msgs
    .filter((m) => !isSeal(m.headers) && !(lastOffset(m) < from))
    .flatMap((m) => decode(channel, m).pubs)
    // Published after the head was read: not part of this page.
    .filter((p) => p.epoch === head.epoch && p.offset <= head.offset);
  // Offsets are contiguous by construction; keep only the run that ends at the head if they are not.
  let start = pubs.length - 1;
  while (start > 0 && pubs[start - 1]!.offset === pubs[start]!.offset - 1) start--;
  if (pubs.length > 0 && pubs[pubs.length - 1]!.offset !== head.offset) return [];
  return pubs.slice(Math.max(0, start));
}

/** A message's last offset from its header alone (NaN when unreadable: then it is decoded, and fails loudly). */
function lastOffset(m: RawMessage): number {
  const raw = m.headers?.get(Header.offset);
  return raw ? Number(raw) : Number.NaN;
}
