import type { EpochRecords } from './epochs.js';
import type { ChannelStore } from './store.js';

// How a quiet channel keeps its position once its publications expire.
//
// The channel's latest publication carries its position, and JetStream drops it after the history
// TTL (plus the claim window and the seal grace). Within that grace, a node that saw the channel's
// latest publication (it stored it, or delivered it live) appends a seal after it and closes the
// channel's epoch record at that offset (EpochRecords.seal); the record lives for the history meta
// TTL in its own stream. The publish path only notes the time in a map: the first publish after a
// seal pays for reopening the record (two round trips), and a channel that no running node saw go
// quiet just loses its position as before (a new epoch: recovered false, never a gap).

export interface SealerOptions {
  store: ChannelStore;
  epochs: EpochRecords;
  historyTtlMs: number;
  /** How often due channels are looked at; well under the seal grace. */
  intervalMs: number;
  /** Channels tracked at most; past it the one seen longest ago is dropped (this node will not seal it). */
  maxTracked: number;
  /** The channel was sealed: a head cached by the publish path is stale. */
  onSealed(channel: string): void;
  warn(message: string, context: Record<string, unknown>): void;
}

const CONCURRENCY = 8;

export class Sealer {
  /** Channel → time of the latest publication of it this node saw. */
  private readonly seen = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: SealerOptions) {
    this.timer = setInterval(() => void this.sweep(), o.intervalMs);
    this.timer.unref();
  }

  /** A publication of the channel, stored at `time`: the channel is not quiet before time + historyTtl. */
  saw(channel: string, time: number): void {
    const before = this.seen.get(channel);
    if (before !== undefined && before >= time) return;
    this.seen.delete(channel);
    this.seen.set(channel, time);
    if (this.seen.size > this.o.maxTracked) this.seen.delete(this.seen.keys().next().value!);
  }

  /** Seals the tracked channels whose latest publication left the history TTL (one sweep at a time). */
  sweep(): Promise<void> {
    this.running ??= this.sealDue().finally(() => (this.running = undefined));
    return this.running;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private async sealDue(): Promise<void> {
    const cutoff = Date.now() - this.o.historyTtlMs;
    const due: Array<[string, number]> = [];
    for (const entry of this.seen) if (entry[1] <= cutoff) due.push(entry);
    for (const [channel] of due) this.seen.delete(channel);
    const failed: Array<{ channel: string; err: unknown }> = [];
    const worker = async () => {
      for (let next = due.shift(); next && !this.stopped; next = due.shift()) {
        try {
          await this.sealOne(next[0], cutoff);
        } catch (err) {
          // Tried again next sweep, while the grace lasts; after it the channel gets a new epoch.
          this.saw(next[0], next[1]);
          failed.push({ channel: next[0], err });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (failed.length > 0 && !this.stopped) {
      this.o.warn('could not seal quiet channels, will retry', { count: failed.length, first: failed[0]!.channel, err: String(failed[0]!.err) });
    }
  }

  private async sealOne(channel: string, cutoff: number): Promise<void> {
    const found = await this.o.store.head(channel);
    if (!found || found.head.sealed) return;
    // Published since (by another node): look again once that publication left the history TTL.
    if (found.msg.time > cutoff) return this.saw(channel, found.msg.time);
    if (await this.o.epochs.seal(channel, found.head, Date.now())) this.o.onSealed(channel);
  }
}
