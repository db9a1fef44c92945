import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type NextMsgRequest,
  RetentionPolicy,
  type SeqMsgRequest,
  StorageType,
  type StoredMsg,
  type StreamConfig,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal';
import { type Msg, type MsgHdrs, type NatsConnection, createInbox, headers as newHeaders, nanos } from '@nats-io/transport-node';
import { BrokerUnavailableError } from '../broker.js';
import { type Head, decodeHead } from './codec.js';
import type { SubjectSpace } from './subject.js';

export interface StoreLimits {
  historySize: number;
  historyTtlMs: number;
  idempotencyWindowMs: number;
  /** Duplicate window of the history stream: how long an offset claim stays exclusive. */
  claimWindowMs: number;
  replicas: number;
  requestTimeoutMs: number;
  /** How long a channel's epoch record (its position, once its publications expired) is kept. */
  metaTtlMs: number;
  /** Epoch records kept at most (one per channel): past it the oldest written goes first. */
  metaMaxChannels: number;
  /** How long JetStream keeps a publication past the history TTL (and claim window), so a node can seal the channel. */
  sealGraceMs: number;
}

/** A stored message as both the direct and the consumer read paths give it. */
export interface RawMessage {
  seq: number;
  subject: string;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  /** Server time it was stored, ms (0 when the read path does not tell). */
  time: number;
}

const EXPECTED_SUBJECT_SEQ = 'Nats-Expected-Last-Subject-Sequence';

/** The stream (or the subject's binding to it) is gone: publishing gets no responder, API calls 10059. */
export function isStreamMissing(err: unknown): boolean {
  return (
    err instanceof jserrors.JetStreamNotEnabled ||
    (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)
  );
}

function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

function toRaw(sm: StoredMsg): RawMessage {
  return { seq: sm.seq, subject: sm.subject, headers: sm.header, data: sm.data, time: sm.time.getTime() };
}

/**
 * JetStream access for one deployment: the history stream (every channel's publications on
 * `<prefix>.ch.<token>`), the meta stream (every channel's epoch record) and the idempotency stream.
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
    await store.ensureStreams();
    return store;
  }

  /**
   * JetStream keeps messages at least for the claim window (it refuses a duplicate window longer than
   * max_age), and a seal grace longer, so a quiet channel's last publication is still there to be
   * sealed once it has left the history TTL.
   */
  get retentionMs(): number {
    return Math.max(this.limits.historyTtlMs, this.limits.claimWindowMs) + this.limits.sealGraceMs;
  }

  streamConfigs(): Array<Partial<StreamConfig> & { name: string }> {
    const { historySize, idempotencyWindowMs, claimWindowMs, replicas, metaTtlMs, metaMaxChannels } = this.limits;
    const common = {
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      allow_direct: true,
    };
    return [
      {
        ...common,
        name: this.space.stream,
        subjects: this.space.streamSubjects,
        // The last publication of a channel carries its position, so at least one is always kept.
        max_msgs_per_subject: Math.max(1, historySize),
        max_age: nanos(this.retentionMs),
        duplicate_window: nanos(claimWindowMs),
        // Only stored messages are republished: a publish refused by a check is never seen live.
        republish: { src: this.space.historyWildcard, dest: this.space.liveTemplate },
      },
      {
        ...common,
        name: this.space.idempotencyStream,
        subjects: this.space.idempotencySubjects,
        max_msgs_per_subject: 1,
        max_age: nanos(idempotencyWindowMs),
        duplicate_window: nanos(idempotencyWindowMs),
      },
      {
        // After the history stream, which gives up the epoch subjects it held before this stream existed.
        ...common,
        name: this.space.metaStream,
        subjects: this.space.metaSubjects,
        // One record per channel, gone metaTtl after its last write; past max_msgs the oldest goes
        // first (that channel then starts a new epoch: recovered: false, never a gap).
        max_msgs_per_subject: 1,
        max_msgs: metaMaxChannels,
        max_age: nanos(metaTtlMs),
        duplicate_window: nanos(Math.min(claimWindowMs, metaTtlMs)),
      },
    ];
  }

  /** Creates the streams, or brings existing ones to this configuration (all nodes must agree on it). */
  async ensureStreams(): Promise<void> {
    for (const want of this.streamConfigs()) await this.ensureStream(want);
  }

  private async ensureStream(want: Partial<StreamConfig> & { name: string }): Promise<void> {
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
        const have = info.config as unknown as Record<string, unknown>;
        const differs = Object.entries(want).some(([k, v]) => JSON.stringify(have[k] ?? null) !== JSON.stringify(v));
        if (differs) await this.jsm.streams.update(want.name, want);
        return;
      } catch (err) {
        // Two nodes creating a stream at once: the loser sees "name already in use" (10058) or, on
        // 2.9, "subjects overlap with an existing stream" (10065) and re-reads. A different stream
        // really owning our subjects keeps failing and is reported.
        if (attempt < 3 && err instanceof JetStreamApiError && (err.code === 10058 || err.code === 10065)) continue;
        throw err;
      }
    }
  }

  /** Latest message of a subject, read from the stream leader (so it is never stale). */
  async last(subject: string, stream = this.space.stream): Promise<RawMessage | null> {
    const sm = await this.jsm.streams.getMessage(stream, { last_by_subj: subject });
    return sm ? toRaw(sm) : null;
  }

  /**
   * Oldest retained message of a subject, from the stream leader, with its server time: one
   * STREAM.MSG.GET with `next_by_subj` (nats-server 2.9 answers it; the client's type for this call
   * lists only seq and last_by_subj, hence the widened query).
   */
  async first(subject: string): Promise<RawMessage | null> {
    const query: SeqMsgRequest & NextMsgRequest = { seq: 0, next_by_subj: subject };
    const sm = await this.jsm.streams.getMessage(this.space.stream, query);
    return sm ? toRaw(sm) : null;
  }

  async bySeq(seq: number): Promise<RawMessage | null> {
    const sm = await this.jsm.streams.getMessage(this.space.stream, { seq });
    return sm ? toRaw(sm) : null;
  }

  /** The channel's latest publication. */
  async head(channel: string): Promise<{ head: Head; msg: RawMessage } | null> {
    const msg = await this.last(this.space.history(channel));
    return msg ? { head: decodeHead(msg.seq, msg.headers), msg } : null;
  }

  /**
   * Stores a message only if `expectedSeq` is still its subject's last sequence (0: none) and no
   * other message took `claim` within the duplicate window. Resolves to the stream sequence, or
   * null when another writer got there first.
   *
   * Both checks are needed: on nats-server 2.9 the sequence check is not serialized across
   * in-flight proposals of a replicated stream (nats-server#4320), the Msg-Id check is; the Msg-Id
   * check only lasts the duplicate window, the sequence check covers older stale writers.
   */
  async append(subject: string, body: Uint8Array, expectedSeq: number, claim: string, headers = newHeaders()): Promise<number | null> {
    headers.set(EXPECTED_SUBJECT_SEQ, String(expectedSeq));
    try {
      const ack = await this.js.publish(subject, body, { headers, msgID: claim });
      return ack.duplicate ? null : ack.seq;
    } catch (err) {
      if (isWrongLastSequence(err)) return null;
      throw err;
    }
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
      return info.num_pending === 0 ? [] : await this.pull(info.name, info.num_pending);
    } finally {
      this.jsm.consumers.delete(this.space.stream, info.name).catch(() => {
        // inactive_threshold removes it anyway; nothing is lost if this delete fails.
      });
    }
  }

  private pull(consumer: string, batch: number): Promise<RawMessage[]> {
    const out: RawMessage[] = [];
    return new Promise<RawMessage[]>((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer);
        sub.unsubscribe();
        if (err) reject(err);
        else resolve(out);
      };
      const timer = setTimeout(
        () => finish(new BrokerUnavailableError(`history fetch: no answer within ${this.limits.requestTimeoutMs} ms`)),
        this.limits.requestTimeoutMs,
      );
      const sub = this.nc.subscribe(createInbox(), {
        callback: (err, msg: Msg) => {
          if (err) return finish(err);
          const code = msg.headers?.code ?? 0;
          if (code !== 0) {
            // 404/408: fewer messages than counted (some expired meanwhile); anything else is an error.
            return code === 404 || code === 408 ? finish() : finish(new Error(`history fetch: ${code} ${msg.headers?.description}`));
          }
          out.push({ seq: streamSeqOf(msg.reply), subject: msg.subject, headers: msg.headers, data: msg.data, time: 0 });
          if (out.length >= batch) finish();
        },
      });
      this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.space.stream}.${consumer}`, JSON.stringify({ batch, no_wait: true }), {
        reply: sub.getSubject(),
      });
    });
  }
}

/** `$JS.ACK.<stream>.<consumer>.<delivered>.<streamSeq>...` (2.9) or with domain and account hash (2.10+). */
function streamSeqOf(reply: string | undefined): number {
  const t = (reply ?? '').split('.');
  if (t.length === 9) return Number(t[5]);
  return t.length >= 11 ? Number(t[7]) : 0;
}
