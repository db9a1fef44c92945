import type { JsonData, Publication, StreamPosition } from '../../contract/index.js';

// `0:0`, a channel with nothing stored and no kept position; defined in the contract, which the
// client shares. Random epochs are 8 (memory) or 12 (NATS) characters, so it never names a generation.
export { EMPTY_EPOCH } from '../../contract/position.js';

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
 * - A channel nobody published to (or whose publications and kept position are both gone) is at
 *   `0:0` (EMPTY_EPOCH): position() and history() of it write nothing and keep no state for it.
 *   Only publish() creates a channel's epoch.
 */
export interface PublishOptions {
  tags?: Record<string, string> | undefined;
  /** Same key on the same channel within the idempotency window → the first result, no second publication. */
  idempotencyKey?: string | undefined;
  /** The client that published, stamped by the publish service from its verified token. */
  publisher?: Publication['publisher'] | undefined;
}

export interface HistoryQuery {
  since?: StreamPosition | undefined;
  limit?: number | undefined;
  reverse?: boolean | undefined;
}

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
  setHandler(handler: BrokerHandler): void;
  publish(channel: string, data: JsonData, options?: PublishOptions): Promise<Publication>;
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  history(channel: string, query?: HistoryQuery): Promise<HistoryPage>;
  /** Current position: the last stored or kept one, else `0:0` (read without creating anything). */
  position(channel: string): Promise<StreamPosition>;
  close(): Promise<void>;
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
 * `0:0` is recoverable only while the channel is still at `0:0` (its current epoch is EMPTY_EPOCH):
 * once a generation exists, the broker cannot tell whether the holder missed it or one before it.
 */
export function isRecoverable(since: StreamPosition, epoch: string, first: number, latest: number): boolean {
  if (since.epoch !== epoch) return false;
  if (since.offset > latest) return false;
  // Everything after since.offset must still be retained: the oldest kept one is since.offset + 1 or older.
  return latest === since.offset || first <= since.offset + 1;
}

/** history() of a channel with nothing stored: its kept position (or `0:0`) and no publication. */
export function positionOnly(channel: string, current: StreamPosition, since: StreamPosition | undefined): HistoryPage {
  if (since && !isRecoverable(since, current.epoch, current.offset + 1, current.offset)) {
    throw new UnrecoverablePositionError(channel, since, current);
  }
  return { publications: [], epoch: current.epoch, offset: current.offset };
}
