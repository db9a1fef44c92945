import type { Publication, StreamPosition } from '../../contract/index.js';
import { emptyEpochTime, isEmptyEpoch, startedAfter } from '../broker/broker.js';

export interface HistoryLimits {
  size: number;
  ttlMs: number;
}

/**
 * The latest publications a hub accepted live for one channel: contiguous offsets ending at the
 * channel's last position. It answers recoveries a few offsets behind the head (a long-poll, a
 * quick reconnect) without a broker round trip, within the same limits the broker's history has,
 * so the answer never depends on which node a client reaches. An empty position `0<T>:0` is
 * answered here only for what the hub followed itself (fromEmpty); the broker decides the rest.
 */
export class RecentWindow {
  private pubs: Publication[] = [];
  /**
   * The epoch whose offset 1 this window took right after the hub's own empty position, and when
   * the hub saw the channel empty: it followed the channel from then on, so a client that saw it
   * empty at that time or later missed exactly this generation. The time rule alone would not do:
   * the hub cannot tell whether a generation came and went between an earlier T and its own
   * observation (a purge, an evicted record: the broker knows, broker/nats/codec.ts Header.first).
   */
  private fromEmpty: { epoch: string; seen: number } | undefined;

  constructor(
    private readonly capacity: number,
    private readonly limits: HistoryLimits,
  ) {}

  /** Appends a publication accepted after `previous` (the channel's last position before it). */
  push(pub: Publication, previous: StreamPosition | undefined): void {
    const tail = this.pubs.at(-1) ?? previous;
    if (!tail || tail.epoch !== pub.epoch || tail.offset + 1 !== pub.offset) {
      this.pubs = [];
      const seen = tail && tail.offset === 0 && pub.offset === 1 ? emptyEpochTime(tail.epoch) : undefined;
      this.fromEmpty = seen === undefined ? undefined : { epoch: pub.epoch, seen };
    }
    this.pubs.push(pub);
    if (this.pubs.length > this.capacity) this.pubs.shift();
  }

  /** The channel's position moved without publications (e.g. history was lost): start afresh. */
  reset(): void {
    this.pubs = [];
    this.fromEmpty = undefined;
  }

  /** Every publication after `since` up to `last`, or undefined when the window cannot answer. */
  since(since: StreamPosition, last: StreamPosition, now: number): Publication[] | undefined {
    if (isEmptyEpoch(since.epoch)) {
      const from = this.continuesEmpty(since, last);
      if (!from) return undefined;
      since = from;
    }
    if (since.epoch !== last.epoch || since.offset > last.offset) return undefined;
    if (last.offset - since.offset > this.limits.size) return undefined;
    const first = this.pubs.length > 0 ? this.pubs[0]!.offset : last.offset + 1;
    if (since.offset < first - 1) return undefined;
    const backlog = this.pubs.slice(since.offset - first + 1);
    if (backlog.length > 0 && backlog[0]!.time <= now - this.limits.ttlMs) return undefined;
    return backlog;
  }

  /**
   * An empty position seen at T, against the hub's last position: nothing missed while the hub,
   * which saw the channel empty no later than T, still does; offset 0 of the generation it then took
   * from offset 1 (stored no earlier than T, the broker's rule); undefined when only the broker can tell.
   */
  private continuesEmpty(since: StreamPosition, last: StreamPosition): StreamPosition | undefined {
    const seen = emptyEpochTime(since.epoch);
    if (seen === undefined || since.offset !== 0) return undefined;
    const hubSaw = emptyEpochTime(last.epoch);
    if (hubSaw !== undefined) return hubSaw <= seen ? last : undefined;
    const first = this.pubs[0];
    if (this.fromEmpty?.epoch !== last.epoch || this.fromEmpty.seen > seen) return undefined;
    if (first?.offset !== 1 || !startedAfter(seen, first.time)) return undefined;
    return { epoch: last.epoch, offset: 0 };
  }
}
