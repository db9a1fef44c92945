import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
  type StreamConfig,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal';
import { type Msg, type MsgHdrs, type NatsConnection, createInbox, headers as newHeaders, nanos } from '@nats-io/transport-node';
import {
  type Head,
  type IdempotencyRecord,
  decodeEpochRecord,
  decodeHead,
  decodeIdempotencyRecord,
  encodeIdempotencyRecord,
  newEpoch,
} from './nats-codec.js';
import type { SubjectSpace } from './subject.js';

export interface StoreLimits {
  historySize: number;
  historyTtlMs: number;
  idempotencyWindowMs: number;
  replicas: number;
  requestTimeoutMs: number;
}

/** A stored message as both the direct and the consumer read paths give it. */
export interface RawMessage {
  seq: number;
  subject: string;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
}

const EXPECTED_SUBJECT_SEQ = 'Nats-Expected-Last-Subject-Sequence';

/** The publish was refused because another one (from any node) changed the subject first. */
export function isConflict(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** The stream (or the subject's binding to it) is gone: publishing gets no responder, API calls 10059. */
export function isStreamMissing(err: unknown): boolean {
  return (
    err instanceof jserrors.JetStreamNotEnabled ||
    (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)
  );
}

function toRaw(sm: StoredMsg): RawMessage {
  return { seq: sm.seq, subject: sm.subject, headers: sm.header, data: sm.data };
}

/**
 * JetStream access for one deployment: one stream holds every channel's history
 * (`<prefix>.ch.<token>`, bounded per subject), its epoch records and idempotency results.
 */
export class ChannelStore {
  readonly js: JetStreamClient;

  private constructor(
    private readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly space: SubjectSpace,
    readonly limits: StoreLimits,
  ) {
    this.js = jetstream(nc, { timeout: limits.requestTimeoutMs });
  }

  static async open(nc: NatsConnection, space: SubjectSpace, limits: StoreLimits): Promise<ChannelStore> {
    const jsm = await jetstreamManager(nc, { timeout: limits.requestTimeoutMs });
    const store = new ChannelStore(nc, jsm, space, limits);
    await store.ensureStream();
    return store;
  }

  streamConfig(): Partial<StreamConfig> & { name: string } {
    const { historySize, historyTtlMs, idempotencyWindowMs, replicas } = this.limits;
    return {
      name: this.space.stream,
      subjects: this.space.streamSubjects,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      // The last publication of a channel carries its position, so at least one is always kept.
      max_msgs_per_subject: Math.max(1, historySize),
      max_age: nanos(historyTtlMs),
      // JetStream refuses a duplicate window longer than max_age.
      duplicate_window: nanos(Math.min(idempotencyWindowMs, historyTtlMs)),
      num_replicas: replicas,
      allow_direct: true,
      // Only stored messages are republished: a publish refused by the sequence check is never seen live.
      republish: { src: this.space.historyWildcard, dest: this.space.liveTemplate },
    };
  }

  /** Creates the stream, or brings an existing one to this configuration (all nodes must agree on it). */
  async ensureStream(): Promise<void> {
    const want = this.streamConfig();
    for (let attempt = 0; ; attempt++) {
      try {
        const info = await this.jsm.streams.info(want.name).catch((err: unknown) => {
          if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
          throw err;
        });
        if (!info) {
          await this.jsm.streams.add(want);
          return;
        }
        const have = info.config;
        const differs =
          have.max_msgs_per_subject !== want.max_msgs_per_subject ||
          have.max_age !== want.max_age ||
          have.duplicate_window !== want.duplicate_window ||
          have.num_replicas !== want.num_replicas ||
          have.allow_direct !== want.allow_direct ||
          JSON.stringify(have.subjects) !== JSON.stringify(want.subjects) ||
          JSON.stringify(have.republish ?? null) !== JSON.stringify(want.republish);
        if (differs) await this.jsm.streams.update(want.name, want);
        return;
      } catch (err) {
        // Two nodes creating the stream at once: the loser sees "already in use" and re-reads.
        if (attempt < 3 && err instanceof JetStreamApiError && err.code === 10058) continue;
        throw err;
      }
    }
  }

  async last(subject: string): Promise<RawMessage | null> {
    const sm = await this.jsm.streams.getMessage(this.space.stream, { last_by_subj: subject });
    return sm ? toRaw(sm) : null;
  }

  async bySeq(seq: number): Promise<RawMessage | null> {
    const sm = await this.jsm.streams.getMessage(this.space.stream, { seq });
    return sm ? toRaw(sm) : null;
  }

  /** The channel's latest publication, read from the stream leader (so it is never stale). */
  async head(channel: string): Promise<{ head: Head; msg: RawMessage } | null> {
    const msg = await this.last(this.space.history(channel));
    return msg ? { head: decodeHead(msg.seq, msg.headers), msg } : null;
  }

  /**
   * Stores a publication only if `expectedSeq` is still the subject's last sequence (0: the subject is empty).
   * Resolves to 'conflict' when another publish got there first.
   */
  async append(
    subject: string,
    body: Uint8Array,
    headers: MsgHdrs,
    expectedSeq: number,
    msgID?: string,
  ): Promise<PubAck | 'conflict'> {
    headers.set(EXPECTED_SUBJECT_SEQ, String(expectedSeq));
    try {
      return await this.js.publish(subject, body, { headers, ...(msgID ? { msgID } : {}) });
    } catch (err) {
      if (isConflict(err)) return 'conflict';
      throw err;
    }
  }

  /**
   * The epoch the channel's next generation will use, without using it up: what position()
   * reports for a channel that has no stored publication.
   */
  async peekEpoch(channel: string): Promise<string> {
    const subject = this.space.epoch(channel);
    for (;;) {
      const rec = await this.last(subject);
      if (rec) return decodeEpochRecord(rec.data);
      const epoch = newEpoch();
      if ((await this.append(subject, new TextEncoder().encode(epoch), this.headers(), 0)) !== 'conflict') return epoch;
    }
  }

  /**
   * Takes the next epoch for a channel whose history is empty, and replaces it so that no later
   * generation can reuse it. Taken before the first publication is stored: a crash in between
   * only wastes an epoch.
   */
  async takeEpoch(channel: string): Promise<string> {
    const subject = this.space.epoch(channel);
    for (;;) {
      let rec = await this.last(subject);
      if (!rec) {
        await this.peekEpoch(channel);
        rec = await this.last(subject);
        if (!rec) continue;
      }
      const epoch = decodeEpochRecord(rec.data);
      const next = new TextEncoder().encode(newEpoch());
      if ((await this.append(subject, next, this.headers(), rec.seq)) !== 'conflict') return epoch;
    }
  }

  async writeIdempotency(digest: string, record: IdempotencyRecord): Promise<void> {
    await this.js.publish(this.space.idempotency(digest), encodeIdempotencyRecord(record));
  }

  async readIdempotency(digest: string): Promise<IdempotencyRecord | null> {
    const rec = await this.last(this.space.idempotency(digest));
    return rec ? decodeIdempotencyRecord(rec.data) : null;
  }

  /**
   * Every retained message of a subject, oldest first, through an ephemeral consumer:
   * two round trips whatever the history size (JetStream 2.9 has no batched direct get).
   */
  async retained(subject: string): Promise<RawMessage[]> {
    const info = await this.jsm.consumers.add(this.space.stream, {
      filter_subject: subject,
      deliver_policy: DeliverPolicy.All,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(Math.max(5_000, this.limits.requestTimeoutMs * 2)),
    });
    try {
      const want = info.num_pending;
      if (want === 0) return [];
      return await this.pull(info.name, want);
    } finally {
      this.jsm.consumers.delete(this.space.stream, info.name).catch(() => {
        // inactive_threshold removes it anyway; nothing is lost if this delete fails.
      });
    }
  }

  private pull(consumer: string, batch: number): Promise<RawMessage[]> {
    const out: RawMessage[] = [];
    const inbox = createInbox();
    return new Promise<RawMessage[]>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`history fetch timed out after ${this.limits.requestTimeoutMs} ms`)), this.limits.requestTimeoutMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        sub.unsubscribe();
        if (err) reject(err);
        else resolve(out);
      };
      const sub = this.nc.subscribe(inbox, {
        callback: (err, msg: Msg) => {
          if (err) return finish(err);
          const code = msg.headers?.code ?? 0;
          if (code !== 0) {
            // 404/408: fewer messages than counted (some expired meanwhile); anything else is an error.
            return code === 404 || code === 408 ? finish() : finish(new Error(`history fetch: ${code} ${msg.headers?.description}`));
          }
          out.push({ seq: streamSeqOf(msg.reply), subject: msg.subject, headers: msg.headers, data: msg.data });
          if (out.length >= batch) finish();
        },
      });
      this.nc.publish(
        `$JS.API.CONSUMER.MSG.NEXT.${this.space.stream}.${consumer}`,
        JSON.stringify({ batch, no_wait: true }),
        { reply: inbox },
      );
    });
  }

  private headers(): MsgHdrs {
    return newHeaders();
  }
}

/** `$JS.ACK.<stream>.<consumer>.<delivered>.<streamSeq>...` (2.9) or with domain and account hash (2.10+). */
function streamSeqOf(reply: string | undefined): number {
  const t = (reply ?? '').split('.');
  if (t.length === 9) return Number(t[5]);
  return t.length >= 11 ? Number(t[7]) : 0;
}
