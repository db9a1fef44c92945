import { setTimeout as sleep } from 'node:timers/promises';
import type { JsonData, Publication } from '../../../contract/index.js';
import { BrokerUnavailableError, type PublishOptions } from '../broker.js';
import {
  type Head,
  Header,
  type IdempotencyBody,
  type IdempotencyRecord,
  decodeIdempotencyRecord,
  decodePublication,
  type EntryExtras,
  encodeEntry,
  encodeIdempotencyRecord,
  encodeMessage,
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
  /** The connection's max_payload: a batch stays well under it. */
  maxPayload(): number;
  /** A publication was stored (the sealer watches for the channel to go quiet). */
  onStored(pub: Publication): void;
  onConflict(): void;
  onDecodeError(channel: string, where: string, err: unknown): void;
  warn(message: string, context: Record<string, unknown>): void;
}

/**
 * Channels whose head this node remembers (~150 B each). Past it the least recently written goes,
 * and its next publish reads the head first: publishes going round more channels than this would
 * each cost an extra round trip (at 10,000, the bench's 10,000 channels did, at half the speed).
 */
const HEAD_CACHE_MAX = 100_000;
/**
 * Publications stored in one message at most. A subject keeps historySize messages, so a batch
 * multiplies what the stream may hold per channel: kept small, as bursts behind one append rarely
 * exceed the publishes in flight.
 */
export const BATCH_MAX = 32;

/** What a publication carries besides its data: its event name, tags, and the publisher a client publish is stamped with. */
type PublicationExtras = EntryExtras;

/** In the order toPublication (codec.ts) decodes them, so a publication reads the same live and from history. */
function withExtras(pub: Publication, extras: PublicationExtras): void {
  if (extras.event !== undefined) pub.event = extras.event;
  if (extras.tags) pub.tags = extras.tags;
  if (extras.publisher) pub.publisher = extras.publisher;
}

/** A publish waiting for its channel's append in flight. */
interface Queued {
  data: JsonData;
  extras: PublicationExtras;
  key: string | undefined;
  /** Its stored JSON body (encodeEntry); unkeyed publishes only. */
  entry: string;
  resolve(pub: Publication): void;
  reject(err: unknown): void;
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
  /** Per channel, publishes waiting while one append is in flight (call order); gone when idle. */
  private readonly lanes = new Map<string, Queued[]>();

  constructor(private readonly ctx: PublisherContext) {}

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
        await this.appendOnce(channel, subject, next.data, next.extras, next.key).then(next.resolve, next.reject);
        continue;
      }
      const batch = this.takeBatch(lane);
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

  /** The unkeyed publishes at the front of the lane, up to BATCH_MAX and well under max_payload. */
  private takeBatch(lane: Queued[]): Queued[] {
    // Room for the headers, and for the ones the stream's republish adds.
    const budget = Math.floor(this.ctx.maxPayload() / 2);
    let n = 1;
    let bytes = Buffer.byteLength(lane[0]!.entry);
    while (n < lane.length && n < BATCH_MAX && lane[n]!.key === undefined) {
      const size = Buffer.byteLength(lane[n]!.entry) + 1;
      if (bytes + size > budget) break;
      bytes += size;
      n++;
    }
    return lane.splice(0, n);
  }

  /**
   * Appends `items` as one message at the channel's next offsets (one conditional append, one
   * claim); on a refusal the head is read again and the whole message tried again, in order.
   */
  private async append(
    channel: string,
    subject: string,
    items: readonly Pick<Queued, 'data' | 'extras' | 'entry'>[],
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
      const entry = encodeEntry(data, extras);
      const stored = await this.append(channel, subject, [{ data, extras, entry }], digest);
      const pub = stored.pubs[0]!;
      await this.record(idemSubject, reservation, digest, done(pub, stored.seq), channel);
      return pub;
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
