// Idempotent publishes (a publish with an idempotency key): the key's reservation and recorded
// result in the idempotency stream, and finding the first publication again for a duplicate.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JsonData, Publication } from '../../../contract/index.js';
import { BrokerUnavailableError } from '../broker.js';
import {
  Header,
  type IdempotencyBody,
  type IdempotencyRecord,
  decodeIdempotencyRecord,
  decodePublication,
  encodeEntry,
  encodeIdempotencyRecord,
  idempotencyDigest,
} from './codec.js';
import { type AppendItem, type PublicationExtras, withExtras } from './publish-batch.js';
import type { ChannelStore } from './store.js';

export interface IdempotencyContext {
  store: ChannelStore;
  timeoutMs: number;
  /** Throws BrokerUnavailableError when the connection is down or closed. */
  assertUsable(): void;
  onDecodeError(channel: string, where: string, err: unknown): void;
  warn(message: string, context: Record<string, unknown>): void;
}

/** The channel's conditional append (OffsetAppender's), tagged with the key's digest. */
export type AppendAt = (
  channel: string,
  subject: string,
  items: readonly AppendItem[],
  digest?: string,
) => Promise<{ pubs: Publication[]; seq: number }>;

export class IdempotentPublisher {
  constructor(
    private readonly ctx: IdempotencyContext,
    private readonly append: AppendAt,
  ) {}

  /**
   * Idempotent publish: the key is reserved first (a claim on `<prefix>.idem.<digest>`, in a stream
   * whose duplicate window is the idempotency window), then published, then its result recorded.
   */
  async appendOnce(
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
