import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { BrokerUnavailableError, emptyEpoch, newEpoch } from '../broker.js';
import {
  type EpochRecord,
  type EpochState,
  type Head,
  decodeEpochRecord,
  encodeEpochRecord,
  encodeSeal,
} from './codec.js';
import type { ChannelStore, RawMessage } from './store.js';

// Epochs and positions of channels whose subject is empty (never published, expired, purged).
//
// A channel's epoch records form a chain on `<prefix>.epoch.<token>` in the meta stream, kept for
// the history meta TTL: each record is appended as the successor of the previous one (claim
// `e:<seq>`), so concurrent writers cannot fork it. The last record names the epoch of the channel's
// generation and its state (codec.ts EpochRecord): free, started, or closed at an offset. A
// generation is closed only behind a seal (seal.ts) and reopened before anything follows the
// seal, so a closed record always names the generation's true last offset: after its publications
// expired the channel goes on from there, in the same epoch.
//
// Only a publish starts a chain: a channel with no record reads as empty, `0<T>:0`, and costs
// nothing, so reads of made-up channels cannot fill the meta stream and evict real positions.

export type Start =
  /**
   * This caller marked the record started: it publishes `offset` (1, or a closed generation's next)
   * with `epoch`. `first`: the chain starts here (there was no record), so no earlier generation of
   * the channel is known; a generation after a lost one is not first (codec.ts Header.first).
   */
  | { kind: 'start'; epoch: string; offset: number; first: boolean }
  /** Another writer is starting a generation: re-read the head after a short wait. */
  | { kind: 'wait'; record: number };

export type Peek = { kind: 'position'; epoch: string; offset: number } | { kind: 'wait'; record: number };

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
    const msg = await this.store.last(this.store.space.epoch(channel), this.store.space.metaStream);
    return msg ? decodeEpochRecord(msg.seq, msg.time, msg.data) : null;
  }

  /**
   * What position() reports for a channel with nothing stored. No record: `0<observed>:0` (observed:
   * when the caller started reading, before its empty head read), without a write.
   * A started record is either in flight (its first publication is about to appear) or dead
   * (purged, or it never landed); reporting its epoch for a dead one would hide the lost history,
   * so it is waited for first, and a dead one is followed by a free record of a new epoch (only a
   * channel someone published to gets there, and an empty position would hide that generation too).
   */
  async peek(channel: string, join: JoinState | undefined, observed: number): Promise<Peek> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const rec = await this.read(channel);
      if (!rec) return { kind: 'position', epoch: emptyEpoch(observed), offset: 0 };
      if (rec.state !== 'started') return { kind: 'position', epoch: rec.epoch, offset: rec.offset };
      if (this.mayBeInFlight(rec, join)) return { kind: 'wait', record: rec.seq };
      const epoch = newEpoch();
      if (await this.append(channel, rec, epoch, 'free')) return { kind: 'position', epoch, offset: 0 };
    }
    throw contended(channel);
  }

  /** The first publication on the empty subject is about to be written: which epoch and offset may it use? */
  async start(channel: string, join: JoinState | undefined): Promise<Start> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const rec = await this.read(channel);
      if (!rec) {
        // The channel's first generation: nobody was told its epoch before (readers saw it empty), so
        // the chain starts right at started. A loser of the first-record claim re-reads and waits.
        const epoch = newEpoch();
        if (await this.append(channel, null, epoch, 'started')) return { kind: 'start', epoch, offset: 1, first: true };
        continue;
      }
      if (rec.state !== 'started') {
        // Free: a new generation at 1. Closed: the sealed generation goes on after its last offset.
        if (await this.append(channel, rec, rec.epoch, 'started')) return { kind: 'start', epoch: rec.epoch, offset: rec.offset + 1, first: false };
        continue;
      }
      if (this.mayBeInFlight(rec, join)) return { kind: 'wait', record: rec.seq };
      const epoch = newEpoch();
      if (await this.append(channel, rec, epoch, 'started')) return { kind: 'start', epoch, offset: 1, first: false };
    }
    throw contended(channel);
  }

  /**
   * The channel's head is a seal and a publication is about to follow it. The record must move
   * first, even when it does not say closed yet: a sealer that read it before sealing closes it
   * only if it did not move, and must not close a generation that goes on. Losing the race to
   * another writer is enough if that writer reopened it (it saw the seal too); not if it closed it.
   */
  async reopen(channel: string, head: Head): Promise<void> {
    let raced = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const rec = await this.read(channel);
      if (raced && rec?.state === 'started') return;
      if (await this.append(channel, rec, head.epoch, 'started')) return;
      raced = true;
    }
    throw contended(channel);
  }

  /**
   * Seals a quiet channel whose latest message is the publication `head`: appends a seal after it
   * (the successor claim of `head`, so nothing else can follow it unnoticed), then closes the record
   * at head.offset, on the condition that the record did not move since before the seal. Resolves
   * to false when someone published meanwhile or reopened it (the position is then theirs to keep).
   */
  async seal(channel: string, head: Head, now: number): Promise<boolean> {
    const rec = await this.read(channel);
    const subject = this.store.space.history(channel);
    const seal = await this.store.append(subject, new Uint8Array(0), head.seq, `n:${head.seq}`, encodeSeal(head, now));
    if (seal === null) return false;
    return this.append(channel, rec, head.epoch, 'closed', head.offset);
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

  private async append(channel: string, prev: EpochRecord | null, epoch: string, state: EpochState, offset = 0): Promise<boolean> {
    const claim = prev ? `e:${prev.seq}` : `e0:${createHash('sha256').update(channel).digest('base64url')}`;
    const body = encodeEpochRecord(epoch, state, offset);
    const seq = await this.store.append(this.store.space.epoch(channel), body, prev?.seq ?? 0, claim);
    return seq !== null;
  }
}

export type ChannelState = { kind: 'stored'; head: Head; msg: RawMessage } | { kind: 'empty'; epoch: string; offset: number };


/** The channel's head, or its position from the epoch record when nothing is stored. */
export async function channelState(store: ChannelStore, epochs: EpochRecords, channel: string): Promise<ChannelState> {
  let join: JoinState | undefined;
  for (let attempt = 1; ; attempt++) {
    // Taken before the reads, so any publication they miss is stored after it (empty positions, broker.ts).
    const observed = Date.now();
    const found = await store.head(channel);
    if (found) return { kind: 'stored', ...found };
    const peek = await epochs.peek(channel, join, observed);
    if (peek.kind === 'position') return { kind: 'empty', epoch: peek.epoch, offset: peek.offset };
    if (join?.record !== peek.record) join = { record: peek.record, since: Date.now() };
    await sleep(Math.min(100, 5 * attempt));
  }
}
