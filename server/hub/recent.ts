import type { Publication, StreamPosition } from '../../contract/index.js';
import { EMPTY_EPOCH } from '../broker/broker.js';

export interface HistoryLimits {
  size: number;
  ttlMs: number;
}

/**
 * The latest publications a hub accepted live for one channel: contiguous offsets ending at the
 * channel's last position. It answers recoveries a few offsets behind the head (a long-poll, a
 * quick reconnect) without a broker round trip, within the same limits the broker's history has,
 * so the answer never depends on which node a client reaches, except for `0:0` (fromEmpty), which
 * only a hub that saw the channel empty can vouch for.
 */
export class RecentWindow {
  private pubs: Publication[] = [];
  /**
   * The epoch whose offset 1 this window took right after the hub's position `0:0`: the hub
   * followed the channel when it had nothing, so a client at `0:0` missed exactly this generation.
   */
  private fromEmpty: string | undefined;

  constructor(
    private readonly capacity: number,
    private readonly limits: HistoryLimits,
  ) {}

  /** Appends a publication accepted after `previous` (the channel's last position before it). */
  push(pub: Publication, previous: StreamPosition | undefined): void {
    const tail = this.pubs.at(-1) ?? previous;
    if (!tail || tail.epoch !== pub.epoch || tail.offset + 1 !== pub.offset) {
      this.pubs = [];
      this.fromEmpty = tail?.epoch === EMPTY_EPOCH && tail.offset === 0 && pub.offset === 1 ? pub.epoch : undefined;
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
    // 0:0 is offset 0 of the generation the hub saw start on the empty channel, and only of that one.
    if (since.epoch === EMPTY_EPOCH && since.offset === 0 && this.fromEmpty === last.epoch) since = { epoch: last.epoch, offset: 0 };
    if (since.epoch !== last.epoch || since.offset > last.offset) return undefined;
    if (last.offset - since.offset > this.limits.size) return undefined;
    const first = this.pubs.length > 0 ? this.pubs[0]!.offset : last.offset + 1;
    if (since.offset < first - 1) return undefined;
    const backlog = this.pubs.slice(since.offset - first + 1);
    if (backlog.length > 0 && backlog[0]!.time <= now - this.limits.ttlMs) return undefined;
    return backlog;
  }
}
