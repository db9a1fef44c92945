import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { HistoryQuery as HistoryQuerySchema, JsonData, Publication, StreamPosition } from '../../contract/index.js';
import { emptyEpochTime, isEmptyEpoch } from '../../contract/empty-epoch.js';

// An empty position `0<T>:0`: a channel seen empty at T (nothing stored, no kept position); defined
// in the contract, which the client shares. Random epochs are 12 characters (newEpoch below; older memory brokers made 8).
export { emptyEpoch, emptyEpochTime, isEmptyEpoch } from '../../contract/empty-epoch.js';

/**
 * A Broker carries publications between nodes and keeps per-channel history.
 * It knows nothing about transports or connections: the Hub is its only user.
 *
 * Rules every implementation follows (checked by test/broker-conformance.ts):
 * - publish() resolves only once the publication is stored, with its assigned epoch and offset.
 *   Offsets start at 1 in every epoch and grow by exactly 1.
 * - Publications of a subscribed channel reach the handler in offset order.
 * - subscribe()/unsubscribe() for one channel are applied in call order.
 * - history() with `since` either returns every retained publication after it, or throws
 *   UnrecoverablePositionError: never a silent gap.
 * - A channel nobody published to (or whose publications and kept position are both gone) is at an
 *   empty position `0<T>:0` (emptyEpoch(T), T the time of the read): position() and history() of it
 *   write nothing and keep no state for it. Only publish() creates a channel's epoch. Recovery from
 *   an empty position follows recoverableFromEmpty() on every node.
 */
export interface PublishOptions {
  /** The publication's event name (contract EventName), stored and delivered with it. */
  event?: string | undefined;
  tags?: Record<string, string> | undefined;
  /** Same key on the same channel within the idempotency window → the first result, no second publication. */
  idempotencyKey?: string | undefined;
  /** The client that published, stamped by the publish service from its verified token. */
  publisher?: Publication['publisher'] | undefined;
}

/** A history read: the REST route's query as the contract parses it (since, limit, reverse). */
export type HistoryQuery = Partial<z.output<typeof HistoryQuerySchema>>;

export interface HistoryPage {
  publications: Publication[];
  /** The channel's current position (epoch and latest offset). */
  epoch: string;
  offset: number;
}

export interface BrokerHandler {
  onPublication(pub: Publication): void;
  /**
   * The broker may have missed publications of this channel (reconnect, slow consumer):
   * the hub must recover its subscribers from history.
   */
  onGap?(channel: string): void;
}

export interface Broker {
  readonly kind: string;
  /** Able to store and deliver now (NATS: connected); a node that is not is not ready (`/ready`). */
  readonly ready: boolean;
  setHandler(handler: BrokerHandler): void;
  publish(channel: string, data: JsonData, options?: PublishOptions): Promise<Publication>;
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  history(channel: string, query?: HistoryQuery): Promise<HistoryPage>;
  /** Current position: the last stored or kept one, else `0<now>:0` (read without creating anything). */
  position(channel: string): Promise<StreamPosition>;
  close(): Promise<void>;
  /** Counts of a broker with a connection (NATS), read by the metrics; absent for the memory broker. */
  readonly stats?: BrokerConnectionStats;
}

export interface BrokerConnectionStats {
  /** Times the connection was lost, and regained. */
  readonly disconnects: number;
  readonly reconnects: number;
}

/**
 * How long a quiet channel's position (epoch + latest offset) outlives its publications, by default:
 * 30 days, as Centrifugo's history_meta_ttl, so a client back after a weekend or a holiday whose
 * channel stayed quiet still recovers (and one that missed an expired publication is still told).
 */
export const DEFAULT_HISTORY_META_TTL_MS = 30 * 24 * 3600 * 1000;

export class UnrecoverablePositionError extends Error {
  override readonly name = 'UnrecoverablePositionError';
  constructor(
    readonly channel: string,
    readonly requested: StreamPosition,
    readonly current: StreamPosition,
  ) {
    super(
      `position ${requested.epoch}:${requested.offset} of ${channel} is not in history (current ${current.epoch}:${current.offset})`,
    );
  }
}

export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Shared check: can a history whose oldest retained offset is `first` serve everything after `since`?
 * For a `since` at an empty position, ask recoverableFromEmpty() first.
 */
export function isRecoverable(since: StreamPosition, epoch: string, first: number, latest: number): boolean {
  if (since.epoch !== epoch) return false;
  if (since.offset > latest) return false;
  // Everything after since.offset must still be retained: the oldest kept one is since.offset + 1 or older.
  return latest === since.offset || first <= since.offset + 1;
}

/**
 * How far the clocks that time an empty position (the node that read the channel empty) and the
 * offset 1 it is compared with (the memory broker's own clock; JetStream's server clock) may
 * disagree. NTP keeps hosts within milliseconds; 1 s also covers a badly synced VM or a clock step.
 * Offset 1 stored before the channel was seen empty contradicts the position (a cursor from another
 * deployment, or made up): nothing is vouched for then. A gap is never what this bound prevents (a
 * lost generation is caught by the horizon and, on NATS, the first-generation mark), so clocks off
 * by more than it cost only a recovered: false.
 */
export const EMPTY_SKEW_MS = 1_000;

/** Offset 1 stored at `firstTime` is no earlier than a channel seen empty at `observed` (less the skew allowance). */
export function startedAfter(observed: number, firstTime: number): boolean {
  return firstTime >= observed - EMPTY_SKEW_MS;
}

/**
 * Shared check for a `since` at an empty position `0<T>:0` (the holder saw the channel empty at T).
 * `horizon` is the earliest T the broker vouches for: a generation that started at or after it
 * cannot have been forgotten since (both brokers: the meta TTL ago; memory also: its start and its
 * last eviction by the kept-position bound). Then:
 * - channel still empty: recoverable (an empty page);
 * - channel at epoch E: recoverable from offset 1 iff `first`, the oldest retained publication of E
 *   (undefined when none is, or when the broker knows a generation was lost before E), is offset 1,
 *   stored no earlier than T (startedAfter). The holder missed exactly E from its offset 1.
 * A T before the horizon is refused even while the channel is empty: a generation may have come and
 * gone unseen since, and the caller is told the current (fresh) empty position instead.
 */
export function recoverableFromEmpty(
  since: StreamPosition,
  current: StreamPosition,
  first: { offset: number; time: number } | undefined,
  horizon: number,
): boolean {
  const observed = emptyEpochTime(since.epoch);
  if (observed === undefined || since.offset !== 0 || observed < horizon) return false;
  if (isEmptyEpoch(current.epoch)) return true;
  return first?.offset === 1 && startedAfter(observed, first.time);
}

/** Either rule, given the channel's oldest retained publication (if any): the one a `since` calls for. */
export function canRecover(since: StreamPosition, current: StreamPosition, oldest: { offset: number; time: number } | undefined, horizon: number): boolean {
  if (isEmptyEpoch(since.epoch)) return recoverableFromEmpty(since, current, oldest, horizon);
  return isRecoverable(since, current.epoch, oldest?.offset ?? current.offset + 1, current.offset);
}

/**
 * history() of a channel with nothing stored: its kept position (or `0<now>:0`) and no publication.
 * A page always carries the current position, so a still-empty channel answers a fresh empty one,
 * not the `since` it was asked about (the hub's subscribe result repeats the subscriber's own).
 */
export function positionOnly(channel: string, current: StreamPosition, since: StreamPosition | undefined, horizon: number): HistoryPage {
  if (since && !canRecover(since, current, undefined, horizon)) throw new UnrecoverablePositionError(channel, since, current);
  return { publications: [], epoch: current.epoch, offset: current.offset };
}

/** A fresh epoch for a channel's new generation: 72 random bits, 12 base64url characters (never the 10 of an empty position). */
export function newEpoch(): string {
  return randomBytes(9).toString('base64url');
}
