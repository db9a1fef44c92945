import { createHash } from 'node:crypto';
import { BrokerUnavailableError } from './broker.js';
import { type EpochRecord, decodeEpochRecord, encodeEpochRecord, newEpoch } from './nats-codec.js';
import type { ChannelStore } from './nats-store.js';

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

  /** What position() reports for a channel with nothing stored. */
  async peek(channel: string): Promise<string> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const rec = await this.read(channel);
      // A started record with an empty subject is either in flight or dead; reporting its epoch
      // at offset 0 could hide a purged generation, so the report moves to a fresh epoch.
      if (rec && !rec.started) return rec.epoch;
      const epoch = newEpoch();
      if (await this.append(channel, rec, epoch, false)) return epoch;
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
      // Started, yet the subject looked empty. Either its first publication is in flight (wait),
      // or the generation is over: long ago (the record is older than the claim window, so it
      // expired since), or it never landed / was purged (still empty after the join timeout).
      const age = this.now() - rec.time;
      const waited = join?.record === rec.seq ? this.now() - join.since : 0;
      if (age < this.store.limits.claimWindowMs && waited < this.joinTimeoutMs) return { kind: 'wait', record: rec.seq };
      const epoch = newEpoch();
      if (await this.append(channel, rec, epoch, true)) return { kind: 'start', epoch };
    }
    throw contended(channel);
  }

  private async append(channel: string, prev: EpochRecord | null, epoch: string, started: boolean): Promise<boolean> {
    const claim = prev ? `e:${prev.seq}` : `e0:${createHash('sha256').update(channel).digest('base64url')}`;
    const seq = await this.store.append(this.store.space.epoch(channel), encodeEpochRecord(epoch, started), prev?.seq ?? 0, claim);
    return seq !== null;
  }
}
