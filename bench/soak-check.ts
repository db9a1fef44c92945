// The soak's correctness side: what was published, and whether each long-lived subscriber saw all of
// it in order. Offsets come from the server, so a hole in a subscriber's offsets is a lost publication.
import type { Publication, StreamPosition, SubscribeResult } from '../contract/index.js';

/** What the soak publishes: a per-channel sequence number, the send time and some padding. */
export interface SoakData {
  seq: number;
  t: number;
  pad: string;
}

export interface CheckReport {
  name: string;
  received: number;
  /** Holes in the offsets, epoch changes, positions the server could not continue, channels cut short at the end. */
  gaps: number;
  /** Publications known to exist that this subscriber did not get. */
  lost: number;
  /** Offsets seen again or going backwards. */
  outOfOrder: number;
  disconnects: string[];
  maxLagMs: number;
  /** The first few problems, for the report. */
  problems: string[];
}

interface ChannelState {
  epoch: string;
  last: number;
}

export class StreamCheck {
  private readonly channels = new Map<string, ChannelState>();
  private readonly report: CheckReport;

  constructor(name: string) {
    this.report = { name, received: 0, gaps: 0, lost: 0, outOfOrder: 0, disconnects: [], maxLagMs: 0, problems: [] };
  }

  get name(): string {
    return this.report.name;
  }

  /** Where this subscriber's stream of `channel` is now; undefined before its subscribe result. */
  position(channel: string): StreamPosition | undefined {
    const s = this.channels.get(channel);
    return s && { epoch: s.epoch, offset: s.last };
  }

  /** A subscribe result: the start of a channel, or (on poll) a later one that must continue it. */
  subscribed(r: SubscribeResult): void {
    const s = this.channels.get(r.channel);
    if (!s) {
      this.channels.set(r.channel, { epoch: r.epoch, last: r.offset });
      return;
    }
    if (r.recovered && r.epoch === s.epoch && r.offset === s.last) return;
    this.gap(r.channel, `subscribe result ${r.epoch}:${r.offset} recovered=${r.recovered} after ${s.epoch}:${s.last}`, r.epoch === s.epoch ? r.offset - s.last : 0);
    s.epoch = r.epoch;
    s.last = r.offset;
  }

  publication(p: Publication, now: number): void {
    const s = this.channels.get(p.channel);
    if (!s) {
      this.problem(`${p.channel}: publication ${p.offset} before its subscribe result`);
      this.report.outOfOrder += 1;
      return;
    }
    if (p.epoch !== s.epoch) {
      this.gap(p.channel, `epoch ${s.epoch} -> ${p.epoch}`, 0);
      s.epoch = p.epoch;
    } else if (p.offset <= s.last) {
      this.report.outOfOrder += 1;
      this.problem(`${p.channel}: offset ${p.offset} after ${s.last}`);
      return;
    } else if (p.offset > s.last + 1) {
      this.gap(p.channel, `offsets ${s.last + 1}..${p.offset - 1} missing`, p.offset - s.last - 1);
    }
    s.last = p.offset;
    this.report.received += 1;
    const lag = now - (p.data as SoakData).t;
    if (lag > this.report.maxLagMs) this.report.maxLagMs = lag;
  }

  disconnected(why: string): void {
    this.report.disconnects.push(why);
    this.problem(`disconnected: ${why}`);
  }

  /** Compares with what the publisher got acknowledged; call once every publication had time to arrive. */
  finish(published: ReadonlyMap<string, StreamPosition>): CheckReport {
    for (const [channel, end] of published) {
      const s = this.channels.get(channel);
      if (!s) this.gap(channel, 'never subscribed', end.offset);
      else if (s.epoch === end.epoch && s.last < end.offset) this.gap(channel, `stopped at ${s.last}, last published ${end.offset}`, end.offset - s.last);
      else if (s.epoch !== end.epoch) this.gap(channel, `ended in epoch ${s.epoch}, published in ${end.epoch}`, 0);
    }
    this.report.maxLagMs = Math.round(this.report.maxLagMs);
    return this.report;
  }

  /** Has every publication the publisher got acknowledged arrived? */
  caughtUp(published: ReadonlyMap<string, StreamPosition>): boolean {
    for (const [channel, end] of published) {
      const s = this.channels.get(channel);
      if (!s || s.epoch !== end.epoch || s.last < end.offset) return false;
    }
    return true;
  }

  private gap(channel: string, what: string, lost: number): void {
    this.report.gaps += 1;
    this.report.lost += Math.max(0, lost);
    this.problem(`${channel}: ${what}`);
  }

  private problem(text: string): void {
    if (this.report.problems.length < 20) this.report.problems.push(text);
  }
}
