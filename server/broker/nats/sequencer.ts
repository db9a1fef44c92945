import type { Publication, StreamPosition } from '../../../contract/index.js';

// Live delivery of one subscribed channel: puts publications back in offset order, drops
// duplicates, and reports a gap when a missing offset does not show up in time.
//
// Republished messages come from the stream leader in storage order, so reordering is rare
// (leader change in a cluster); loss happens on reconnects, which the broker reports itself.

export type Baseline =
  /** The channel's head when the subscription became live. */
  | { kind: 'position'; position: StreamPosition }
  /** No publication stored: the next one is offset 1, in whatever epoch it starts. */
  | { kind: 'empty' }
  /** Not known (after a reconnect, the gap is already reported): adopt the first arrival. */
  | { kind: 'unknown' }
  /** Still being read: hold arrivals until start() gives the baseline. */
  | { kind: 'pending' };

export interface SequencerHooks {
  deliver(pub: Publication): void;
  gap(channel: string, reason: string): void;
  reorderWindowMs: number;
  maxBuffered: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export class ChannelSequencer {
  private epoch: string | undefined;
  /** Last delivered offset (0: none yet in this epoch). */
  private offset = 0;
  private mode: Baseline['kind'] = 'pending';
  private readonly held: Publication[] = [];
  private readonly buffer = new Map<number, Publication>();
  private timer: unknown;
  private disposed = false;
  duplicates = 0;
  gaps = 0;

  constructor(
    readonly channel: string,
    private readonly hooks: SequencerHooks,
  ) {}

  /** Sets the baseline and replays what arrived while it was being read. */
  start(baseline: Exclude<Baseline, { kind: 'pending' }>): void {
    this.resetState();
    this.mode = baseline.kind;
    if (baseline.kind === 'position') {
      this.epoch = baseline.position.epoch;
      this.offset = baseline.position.offset;
    }
    const held = this.held.splice(0);
    for (const pub of held) this.push(pub);
  }

  push(pub: Publication): void {
    if (this.disposed) return;
    if (this.mode === 'pending') {
      this.held.push(pub);
      return;
    }
    if (this.mode === 'unknown') {
      this.mode = 'position';
      this.epoch = pub.epoch;
      this.offset = pub.offset - 1;
    } else if (this.mode === 'empty') {
      this.mode = 'position';
      this.epoch = pub.epoch;
    }
    if (pub.epoch !== this.epoch) {
      // The channel's history was lost and restarted: whatever is buffered belongs to a dead epoch.
      this.resetState();
      this.report(`epoch changed from ${this.epoch} to ${pub.epoch}`);
      this.epoch = pub.epoch;
      this.offset = pub.offset - 1;
    }
    if (pub.offset <= this.offset || this.buffer.has(pub.offset)) {
      this.duplicates += 1;
      return;
    }
    if (pub.offset === this.offset + 1) {
      this.emit(pub);
      this.drain();
      return;
    }
    this.buffer.set(pub.offset, pub);
    if (this.buffer.size > this.hooks.maxBuffered) {
      this.flushGap(`more than ${this.hooks.maxBuffered} publications wait for offset ${this.offset + 1}`);
    } else if (this.timer === undefined) {
      const set = this.hooks.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
      this.timer = set(() => {
        this.timer = undefined;
        this.flushGap(`offset ${this.offset + 1} missing for ${this.hooks.reorderWindowMs} ms`);
      }, this.hooks.reorderWindowMs);
    }
  }

  /** Forget the position (after a reconnect): the next arrival becomes the baseline. */
  forget(): void {
    if (this.mode === 'pending') return;
    this.resetState();
    this.mode = 'unknown';
  }

  dispose(): void {
    this.disposed = true;
    this.resetState();
    this.held.length = 0;
  }

  private emit(pub: Publication): void {
    this.offset = pub.offset;
    this.hooks.deliver(pub);
  }

  private drain(): void {
    let next = this.buffer.get(this.offset + 1);
    while (next && !this.disposed) {
      this.buffer.delete(next.offset);
      this.emit(next);
      next = this.buffer.get(this.offset + 1);
    }
    if (this.buffer.size === 0) this.stopTimer();
  }

  private flushGap(reason: string): void {
    this.stopTimer();
    this.report(reason);
    const waiting = [...this.buffer.values()].sort((a, b) => a.offset - b.offset);
    this.buffer.clear();
    for (const pub of waiting) if (!this.disposed) this.emit(pub);
  }

  private report(reason: string): void {
    this.gaps += 1;
    this.hooks.gap(this.channel, reason);
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    (this.hooks.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout)))(this.timer);
    this.timer = undefined;
  }

  private resetState(): void {
    this.stopTimer();
    this.buffer.clear();
  }
}
