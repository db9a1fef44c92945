// The conditional append that gives a publication its channel's next offset, and the per-channel
// lane that keeps this node's publishes to a channel in call order and batches them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JsonData, Publication } from '../../../contract/index.js';
import { BrokerUnavailableError, type PublishOptions } from '../broker.js';
import { type Head, Header, encodeEntry, encodeMessage } from './codec.js';
import type { EpochRecords, JoinState } from './epochs.js';
import { type IdempotencyContext, IdempotentPublisher } from './idempotent-publish.js';
import { type AppendItem, type Queued, takeBatch, withExtras } from './publish-batch.js';

export { BATCH_MAX } from './publish-batch.js';

export interface PublisherContext extends IdempotencyContext {
  epochs: EpochRecords;
  /** The connection's max_payload: a batch stays well under it. */
  maxPayload(): number;
  /** A publication was stored (the sealer watches for the channel to go quiet). */
  onStored(pub: Publication): void;
  onConflict(): void;
}

/**
 * Channels whose head this node remembers (~150 B each). Past it the least recently written goes,
 * and its next publish reads the head first: publishes going round more channels than this would
 * each cost an extra round trip (at 10,000, the bench's 10,000 channels did, at half the speed).
 */
const HEAD_CACHE_MAX = 100_000;

/**
 * Stores publications at the next offset of their channel: a conditional append on the channel's
 * subject (expected last subject sequence plus a Nats-Msg-Id claim), retried when another node won
 * the offset, and idempotent appends by key. The broker's publish() is this; delivery is elsewhere.
 */
export class OffsetAppender {
  /**
   * Last head this node wrote per channel. Trusted (used without a read) only while no other node
   * seems to write the channel: a stale head costs a refused append on top of the read.
   */
  private readonly heads = new Map<string, { head: Head; trusted: boolean }>();
  /** Per channel, publishes waiting while one append is in flight (call order); gone when idle. */
  private readonly lanes = new Map<string, Queued[]>();
  private readonly idempotent: IdempotentPublisher;

  constructor(private readonly ctx: PublisherContext) {
    this.idempotent = new IdempotentPublisher(ctx, (channel, subject, items, digest) => this.append(channel, subject, items, digest));
  }

  /** After a reconnect or a stream change, cached heads may describe another stream incarnation. */
  forgetHeads(): void {
    this.heads.clear();
  }

  /** The channel was sealed: the head this node wrote is no longer its last message. */
  forgetHead(channel: string): void {
    this.heads.delete(channel);
  }

  /**
   * One append at a time per channel on this node (concurrent ones would only fight over the same
   * head). The publishes that queue behind it go out together as one batch message when it is done,
   * so a hot channel stores several publications per round trip; keyed ones still go one by one.
   */
  publish(channel: string, subject: string, data: JsonData, options: PublishOptions): Promise<Publication> {
    return new Promise<Publication>((resolve, reject) => {
      const key = options.idempotencyKey;
      const entry = key === undefined ? encodeEntry(data, options) : '';
      const q: Queued = { data, extras: options, key, entry, resolve, reject };
      const lane = this.lanes.get(channel);
      if (lane) return void lane.push(q);
      const fresh = [q];
      this.lanes.set(channel, fresh);
      void this.drain(channel, subject, fresh);
    });
  }

  private async drain(channel: string, subject: string, lane: Queued[]): Promise<void> {
    while (lane.length > 0) {
      const next = lane[0]!;
      if (next.key !== undefined) {
        lane.shift();
        await this.idempotent.appendOnce(channel, subject, next.data, next.extras, next.key).then(next.resolve, next.reject);
        continue;
      }
      const batch = takeBatch(lane, this.ctx.maxPayload());
      try {
        const { pubs } = await this.append(channel, subject, batch);
        batch.forEach((q, i) => q.resolve(pubs[i]!));
      } catch (err) {
        // Nothing of the batch was stored (or nobody can tell, like a timed-out single publish).
        for (const q of batch) q.reject(err);
      }
    }
    this.lanes.delete(channel);
  }

  /**
   * Appends `items` as one message at the channel's next offsets (one conditional append, one
   * claim); on a refusal the head is read again and the whole message tried again, in order.
   */
  private async append(
    channel: string,
    subject: string,
    items: readonly AppendItem[],
    digest?: string,
  ): Promise<{ pubs: Publication[]; seq: number }> {
    const deadline = Date.now() + this.ctx.timeoutMs * 3;
    const entries = items.map((q) => q.entry);
    let join: JoinState | undefined;
    for (let attempt = 1; ; attempt++) {
      this.ctx.assertUsable();
      if (attempt > 1 && Date.now() > deadline) {
        throw new BrokerUnavailableError(`publish to ${channel}: no offset after ${attempt - 1} attempts`);
      }
      const cached = this.heads.get(channel);
      const head = cached?.trusted ? cached.head : (await this.ctx.store.head(channel))?.head;
      // Nobody else wrote since our last publish: the next one can skip the read.
      const trusted = cached !== undefined && head?.seq === cached.head.seq;
      let epoch: string;
      let offset: number;
      let claim: string;
      let first = false;
      if (head) {
        // The first publish after a quiet spell: the epoch record must not keep saying the generation ended.
        if (head.sealed) await this.ctx.epochs.reopen(channel, head);
        epoch = head.epoch;
        offset = head.offset + 1;
        claim = `n:${head.seq}`;
      } else {
        const start = await this.ctx.epochs.start(channel, join);
        if (start.kind === 'wait') {
          if (join?.record !== start.record) join = { record: start.record, since: Date.now() };
          await sleep(Math.min(100, 5 * attempt));
          continue;
        }
        epoch = start.epoch;
        offset = start.offset;
        claim = `g:${epoch}:${offset}`;
        first = start.first;
      }
      const time = Date.now();
      const last = offset + items.length - 1;
      const prevSeq = head?.seq ?? 0;
      const { headers, body } = encodeMessage({ epoch, last, time, prevSeq }, entries);
      if (digest) headers.set(Header.idempotency, digest);
      if (first) headers.set(Header.first, '1');
      const seq = await this.ctx.store.append(subject, body, prevSeq, claim, headers);
      if (seq === null) {
        if (cached) cached.trusted = false;
        this.ctx.onConflict();
        // Nodes racing for one hot channel would otherwise keep colliding in lockstep.
        if (attempt > 1) await sleep(Math.random() * Math.min(20, 2 ** attempt));
        continue;
      }
      this.heads.delete(channel);
      this.heads.set(channel, { head: { seq, epoch, offset: last }, trusted });
      if (this.heads.size > HEAD_CACHE_MAX) this.heads.delete(this.heads.keys().next().value!);
      const pubs = items.map((q, i) => {
        const pub: Publication = { channel, offset: offset + i, epoch, data: q.data, time };
        withExtras(pub, q.extras);
        return pub;
      });
      this.ctx.onStored(pubs[pubs.length - 1]!);
      return { pubs, seq };
    }
  }
}
