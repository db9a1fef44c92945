import { createHash } from 'node:crypto';
import { BrokerUnavailableError } from './broker.js';
import { type EpochRecord, type Head, decodeEpochRecord, encodeEpochRecord, newEpoch } from './nats-codec.js';
import type { ChannelStore, RawMessage } from './nats-store.js';

/**
 * Epochs of channels whose subject is empty (never published, expired, purged).
 *
 * A channel's epoch records form a chain on `<prefix>.epoch.<token>`: each record is appended
 * as the successor of the previous one (claim `e:<seq>`), so concurrent writers cannot fork it.
 * The last record names the epoch of the channel's next generation and whether that generation
 * has started. Starting marks it first, so an epoch used by one generation is never used by a
 * later one, even if the starter crashes before its first publication lands.
 */
export type Start =
  /** This caller marked the epoch started: it publishes offset 1 with it. */
  | { kind: 'start'; epoch: string }
  /** Another writer is starting a generation: re-read the head after a short wait. */
  | { kind: 'wait'; record: number };

export type Peek = { kind: 'epoch'; epoch: string } | { kind: 'wait'; record: number };

export interface JoinState {
  record: number;
  since: number;
}

const MAX_ATTEMPTS = 20;

function contended(channel: string): BrokerUnavailableError {
  return new BrokerUnavailableError(`epoch record of ${channel}: still contended after ${MAX_ATTEMPTS} attempts`);
}

export class EpochRecords {
  constructor(
    private readonly store: ChannelStore,
    /** How long a started-but-empty generation is waited for before it is given up. */
    private readonly joinTimeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async read(channel: string): Promise<EpochRecord | null> {
    const msg = await this.store.last(this.store.space.epoch(channel));
    return msg ? decodeEpochRecord(msg.seq, msg.time, msg.data) : null;
  }

  /**
   * What position() reports for a channel with nothing stored. A started record is either in
   * flight (its first publication is about to appear) or dead (purged, or it never landed);
   * reporting its epoch for a dead one would hide the lost history, so it is waited for first.
   */
  async peek(channel: string, join: JoinState | undefined): Promise<Peek> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const rec = await this.read(channel);
      if (rec && !rec.started) return { kind: 'epoch', epoch: rec.epoch };
      if (rec && this.mayBeInFlight(rec, join)) return { kind: 'wait', record: rec.seq };
      const epoch = newEpoch();
      if (await this.append(channel, rec, epoch, false)) return { kind: 'epoch', epoch };
    }
    throw contended(channel);
  }

  /** The first publication of a generation is about to be written: which epoch may it use? */
  async start(channel: string, join: JoinState | undefined): Promise<Start> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const rec = await this.read(channel);
      if (!rec) {
        await this.append(channel, null, newEpoch(), false);
        continue;
      }
      if (!rec.started) {
        if (await this.append(channel, rec, rec.epoch, true)) return { kind: 'start', epoch: rec.epoch };
        continue;
      }
      if (this.mayBeInFlight(rec, join)) return { kind: 'wait', record: rec.seq };
      const epoch = newEpoch();
      if (await this.append(channel, rec, epoch, true)) return { kind: 'start', epoch };
    }
    throw contended(channel);
  }

  /**
   * Started, yet the subject looked empty. Either its first publication is in flight (wait), or
   * the generation is over: long ago (the record is older than the claim window, so it expired
   * since), or it never landed or was purged (still empty after the join timeout).
   */
  private mayBeInFlight(rec: EpochRecord, join: JoinState | undefined): boolean {
    const age = this.now() - rec.time;
    const waited = join?.record === rec.seq ? this.now() - join.since : 0;
    return age < this.store.limits.claimWindowMs && waited < this.joinTimeoutMs;
  }

  private async append(channel: string, prev: EpochRecord | null, epoch: string, started: boolean): Promise<boolean> {
    const claim = prev ? `e:${prev.seq}` : `e0:${createHash('sha256').update(channel).digest('base64url')}`;
    const seq = await this.store.append(this.store.space.epoch(channel), encodeEpochRecord(epoch, started), prev?.seq ?? 0, claim);
    return seq !== null;
  }
}

export type ChannelState = { kind: 'stored'; head: Head; msg: RawMessage } | { kind: 'empty'; epoch: string };

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The channel's head, or the epoch its next generation will use when nothing is stored. */
export async function channelState(store: ChannelStore, epochs: EpochRecords, channel: string): Promise<ChannelState> {
  let join: JoinState | undefined;
  for (let attempt = 1; ; attempt++) {
    const found = await store.head(channel);
    if (found) return { kind: 'stored', ...found };
    const peek = await epochs.peek(channel, join);
    if (peek.kind === 'epoch') return { kind: 'empty', epoch: peek.epoch };
    if (join?.record !== peek.record) join = { record: peek.record, since: Date.now() };
    await pause(Math.min(100, 5 * attempt));
  }
}
