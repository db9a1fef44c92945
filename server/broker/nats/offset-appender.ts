import { setTimeout as sleep } from 'node:timers/promises';
import type { JsonData, Publication } from '../../../contract/index.js';
import { KeyedQueue } from '../../keyed-queue.js';
import { BrokerUnavailableError, type PublishOptions } from '../broker.js';
import {
  type Head,
  Header,
  type IdempotencyBody,
  type IdempotencyRecord,
  decodeIdempotencyRecord,
  decodePublication,
  encodeIdempotencyRecord,
  encodePublication,
  idempotencyDigest,
} from './codec.js';
import type { EpochRecords, JoinState } from './epochs.js';
import type { ChannelStore } from './store.js';

export interface PublisherContext {
  store: ChannelStore;
  epochs: EpochRecords;
  timeoutMs: number;
  /** Throws BrokerUnavailableError when the connection is down or closed. */
  assertUsable(): void;
  /** A publication was stored (the sealer watches for the channel to go quiet). */
  onStored(pub: Publication): void;
  onConflict(): void;
  onDecodeError(channel: string, where: string, err: unknown): void;
  warn(message: string, context: Record<string, unknown>): void;
}

const HEAD_CACHE_MAX = 10_000;


/**
 * The publish path. An offset is taken by appending to the channel's subject on two conditions:
 * the subject's last stream sequence is still the head we read, and nobody else claimed to be the
 * successor of that head (Msg-Id `n:<head seq>`). A loser re-reads the head and tries again.
 */
/** What a publication carries besides its data: tags, and the publisher a client publish is stamped with. */
type PublicationExtras = Pick<PublishOptions, 'tags' | 'publisher'>;

function withExtras(pub: Publication, extras: PublicationExtras): void {
  if (extras.tags) pub.tags = extras.tags;
  if (extras.publisher) pub.publisher = extras.publisher;
}

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
  private readonly lanes = new KeyedQueue();

  constructor(private readonly ctx: PublisherContext) {}

  /** After a reconnect or a stream change, cached heads may describe another stream incarnation. */
  forgetHeads(): void {
    this.heads.clear();
  }

  /** The channel was sealed: the head this node wrote is no longer its last message. */
  forgetHead(channel: string): void {
    this.heads.delete(channel);
  }

  publish(channel: string, subject: string, data: JsonData, options: PublishOptions): Promise<Publication> {
    // One publish at a time per channel on this node: concurrent ones would only fight over the same head.
    return this.lanes.run(channel, async () => {
      if (options.idempotencyKey === undefined) return (await this.append(channel, subject, data, options)).pub;
      return this.appendOnce(channel, subject, data, options, options.idempotencyKey);
    });
  }

  private async append(
    channel: string,
    subject: string,
    data: JsonData,
    extras: PublicationExtras,
    digest?: string,
  ): Promise<{ pub: Publication; seq: number }> {
    const deadline = Date.now() + this.ctx.timeoutMs * 3;
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
      const pub: Publication = { channel, offset, epoch, data, time: Date.now() };
      withExtras(pub, extras);
      const prevSeq = head?.seq ?? 0;
      const { headers, body } = encodePublication(pub, prevSeq);
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
      this.heads.set(channel, { head: { seq, epoch, offset: pub.offset }, trusted });
      if (this.heads.size > HEAD_CACHE_MAX) this.heads.delete(this.heads.keys().next().value!);
      this.ctx.onStored(pub);
      return { pub, seq };
    }
  }

  /**
   * Idempotent publish: the key is reserved first (a claim on `<prefix>.idem.<digest>`, in a stream
   * whose duplicate window is the idempotency window), then published, then its result recorded.
   */
  private async appendOnce(
    channel: string,
    subject: string,
    data: JsonData,
    extras: PublicationExtras,
    key: string,
  ): Promise<Publication> {
    const digest = idempotencyDigest(channel, key);
    const idemSubject = this.ctx.store.space.idempotency(digest);
    const deadline = Date.now() + this.ctx.timeoutMs * 3;
    const staleMs = Math.max(10_000, this.ctx.timeoutMs * 5);
    for (let attempt = 1; ; attempt++) {
      this.ctx.assertUsable();
      if (attempt > 1 && Date.now() > deadline) {
        throw new BrokerUnavailableError(`publish to ${channel}: the same idempotency key is still being published`);
      }
      const rec = await this.readRecord(idemSubject);
      if (rec?.state === 'done') return this.firstResult(channel, subject, rec, data, extras);
      if (rec?.state === 'pending') {
        if (Date.now() - rec.time < staleMs) {
          await sleep(Math.min(100, 5 * attempt));
          continue;
        }
        // Its owner gave up or died, maybe after storing the publication: look for it before taking over.
        const found = await this.findInHistory(channel, subject, digest);
        if (found) {
          await this.record(idemSubject, rec.seq, digest, done(found.pub, found.seq), channel);
          return found.pub;
        }
      }
      const reservation = await this.ctx.store.append(
        idemSubject,
        encodeIdempotencyRecord({ state: 'pending' }),
        rec?.seq ?? 0,
        `${digest}:${rec?.seq ?? 0}`,
      );
      if (reservation === null) continue;
      const stored = await this.append(channel, subject, data, extras, digest);
      await this.record(idemSubject, reservation, digest, done(stored.pub, stored.seq), channel);
      return stored.pub;
    }
  }

  private async readRecord(idemSubject: string): Promise<IdempotencyRecord | null> {
    const msg = await this.ctx.store.last(idemSubject, this.ctx.store.space.idempotencyStream);
    return msg ? decodeIdempotencyRecord(msg.seq, msg.time, msg.data) : null;
  }

  /** A failed write leaves the key pending: a later duplicate finds the publication in history instead. */
  private async record(idemSubject: string, prevSeq: number, digest: string, body: IdempotencyBody, channel: string): Promise<void> {
    try {
      const seq = await this.ctx.store.append(idemSubject, encodeIdempotencyRecord(body), prevSeq, `${digest}:${prevSeq}`);
      if (seq === null) this.ctx.warn('idempotency result not recorded: the record changed meanwhile', { channel });
    } catch (err) {
      this.ctx.warn('idempotency result not recorded', { channel, err: String(err) });
    }
  }

  private async firstResult(
    channel: string,
    subject: string,
    rec: Extract<IdempotencyRecord, { state: 'done' }>,
    data: JsonData,
    extras: PublicationExtras,
  ): Promise<Publication> {
    const original = await this.ctx.store.bySeq(rec.pubSeq);
    if (original && original.subject === subject) {
      try {
        const d = decodePublication(channel, original.headers, original.data).pub;
        if (d.epoch === rec.epoch && d.offset === rec.offset) return d;
      } catch (err) {
        this.ctx.onDecodeError(channel, `stream sequence ${rec.pubSeq}`, err);
      }
    }
    // The first publication has left history: its position and time are what the key promised.
    const pub: Publication = { channel, epoch: rec.epoch, offset: rec.offset, time: rec.pubTime, data };
    withExtras(pub, extras);
    return pub;
  }

  private async findInHistory(channel: string, subject: string, digest: string): Promise<{ pub: Publication; seq: number } | null> {
    for (const m of await this.ctx.store.retained(subject)) {
      if (m.headers?.get(Header.idempotency) !== digest) continue;
      return { pub: decodePublication(channel, m.headers, m.data).pub, seq: m.seq };
    }
    return null;
  }
}

function done(pub: Publication, seq: number): IdempotencyBody {
  return { state: 'done', epoch: pub.epoch, offset: pub.offset, pubTime: pub.time, pubSeq: seq };
}
