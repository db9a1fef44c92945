import { type Msg, type NatsConnection, type Subscription, connect } from '@nats-io/transport-node';
import type { JsonData, Publication, StreamPosition } from '../../contract/index.js';
import {
  type Broker,
  type BrokerHandler,
  BrokerUnavailableError,
  type HistoryPage,
  type HistoryQuery,
  type PublishOptions,
} from './broker.js';
import { type Head, decodePublication, encodePublication, idempotencyDigest } from './nats-codec.js';
import { isUnavailable, toBrokerError, withTimeout } from './nats-errors.js';
import { readHistory } from './nats-history.js';
import { ChannelSequencer } from './nats-sequencer.js';
import { ChannelStore, isStreamMissing } from './nats-store.js';
import { type SubjectSpace, subjectSpace } from './subject.js';

export interface BrokerLogger {
  warn(message: string, context?: Record<string, unknown>): void;
}

export interface NatsBrokerOptions {
  servers: string | string[];
  /** Subject prefix and stream name stem; deployments sharing one NATS use different prefixes. */
  prefix?: string;
  historySize: number;
  historyTtlMs: number;
  /** JetStream replicas of the stream (1, 3 or 5; at most the cluster size). */
  replicas?: number;
  /** Connection name, shown by the NATS monitoring endpoints. */
  name?: string;
  /** Capped at historyTtlMs (JetStream's duplicate window cannot exceed max_age). */
  idempotencyWindowMs?: number;
  /** Bound on every NATS round trip; publish/history/position reject after it. */
  requestTimeoutMs?: number;
  reconnectTimeWaitMs?: number;
  /** How long an out-of-order live publication waits for the missing ones before onGap. */
  reorderWindowMs?: number;
  historyWalkLimit?: number;
  logger?: BrokerLogger;
}

export interface NatsBrokerStats {
  /** Stored or live messages that could not be decoded (each also logged). */
  decodeErrors: number;
  /** Publishes that lost the race for an offset and were retried. */
  publishConflicts: number;
  gaps: number;
  duplicatesDropped: number;
  /** Idempotency results that could not be saved (logged). */
  idempotencyWriteErrors: number;
}

const consoleLogger: BrokerLogger = {
  warn: (message, context) => console.warn(`[hubbub:nats] ${message}`, context ?? ''),
};

const HEAD_CACHE_MAX = 10_000;
const MAX_PUBLISH_ATTEMPTS = 100;

interface LiveSubscription {
  sub: Subscription;
  sequencer: ChannelSequencer;
}

/**
 * Broker over NATS JetStream, shared by every Hubbub node of a deployment. See docs/nats-design.md.
 * Offsets are assigned by optimistic concurrency on the channel's subject; live delivery comes from
 * the stream's republish, so only stored publications are ever delivered.
 */
export class NatsBroker implements Broker {
  readonly kind = 'nats';
  readonly stats: NatsBrokerStats = {
    decodeErrors: 0,
    publishConflicts: 0,
    gaps: 0,
    duplicatesDropped: 0,
    idempotencyWriteErrors: 0,
  };
  private handler: BrokerHandler | undefined;
  private connected = true;
  private closed = false;
  /** Last known head per channel published from this node: saves a read per publish when uncontended. */
  private readonly heads = new Map<string, Head>();
  private readonly publishLanes = new Map<string, Promise<unknown>>();
  private readonly subscribeLanes = new Map<string, Promise<unknown>>();
  private readonly live = new Map<string, LiveSubscription>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly log: BrokerLogger;
  private readonly timeoutMs: number;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly store: ChannelStore,
    private readonly space: SubjectSpace,
    private readonly options: NatsBrokerOptions,
  ) {
    this.log = options.logger ?? consoleLogger;
    this.timeoutMs = options.requestTimeoutMs ?? 2_000;
    void this.watchStatus();
  }

  static async connect(options: NatsBrokerOptions): Promise<NatsBroker> {
    const space = subjectSpace(options.prefix);
    const timeout = options.requestTimeoutMs ?? 2_000;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.servers,
        name: options.name ?? 'hubbub',
        timeout,
        maxReconnectAttempts: -1,
        reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
        reconnectJitter: 100,
      });
    } catch (err) {
      throw new BrokerUnavailableError(`cannot connect to NATS at ${String(options.servers)}`, { cause: err });
    }
    try {
      const store = await ChannelStore.open(nc, space, {
        historySize: options.historySize,
        historyTtlMs: options.historyTtlMs,
        idempotencyWindowMs: options.idempotencyWindowMs ?? 300_000,
        replicas: options.replicas ?? 1,
        requestTimeoutMs: timeout,
      });
      return new NatsBroker(nc, store, space, options);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw toBrokerError('setting up the JetStream stream', err);
    }
  }

  setHandler(handler: BrokerHandler): void {
    this.handler = handler;
  }

  async publish(channel: string, data: JsonData, options: PublishOptions = {}): Promise<Publication> {
    const subject = this.space.history(channel);
    return this.serial(this.publishLanes, channel, () =>
      this.guarded('publish', () => this.publishOnce(channel, subject, data, options)),
    );
  }

  async subscribe(channel: string): Promise<void> {
    const subject = this.space.live(channel);
    return this.serial(this.subscribeLanes, channel, () => this.startLive(channel, subject));
  }

  async unsubscribe(channel: string): Promise<void> {
    this.space.live(channel);
    return this.serial(this.subscribeLanes, channel, async () => {
      const live = this.live.get(channel);
      if (!live) return;
      this.live.delete(channel);
      live.sequencer.dispose();
      live.sub.unsubscribe();
    });
  }

  async history(channel: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    this.space.history(channel);
    return this.guarded('history', () =>
      readHistory(
        {
          store: this.store,
          historySize: this.options.historySize,
          walkLimit: this.options.historyWalkLimit ?? 16,
          onDecodeError: (err, where) => this.decodeFailed(channel, where, err),
        },
        channel,
        query,
      ),
    );
  }

  async position(channel: string): Promise<StreamPosition> {
    this.space.history(channel);
    return this.guarded('position', async () => {
      const found = await this.store.head(channel);
      if (found) return { epoch: found.head.epoch, offset: found.head.offset };
      return { epoch: await this.store.peekEpoch(channel), offset: 0 };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const live of this.live.values()) live.sequencer.dispose();
    this.live.clear();
    await Promise.allSettled([...this.background]);
    this.handler = undefined;
    if (!this.nc.isClosed()) await this.nc.drain();
  }

  private async publishOnce(channel: string, subject: string, data: JsonData, options: PublishOptions): Promise<Publication> {
    const digest = options.idempotencyKey === undefined ? undefined : idempotencyDigest(channel, options.idempotencyKey);
    const deadline = Date.now() + this.timeoutMs * 2;
    for (let attempt = 1; ; attempt++) {
      this.assertUsable();
      let head: Head | undefined = this.heads.get(channel);
      if (!head) head = (await this.store.head(channel))?.head;
      // An empty subject starts a new generation, which takes the channel's next epoch.
      const epoch = head ? head.epoch : await this.store.takeEpoch(channel);
      const pub: Publication = { channel, offset: head ? head.offset + 1 : 1, epoch, data, time: Date.now() };
      if (options.tags) pub.tags = options.tags;
      const prevSeq = head?.seq ?? 0;
      const { headers, body } = encodePublication(pub, prevSeq);
      const ack = await this.store.append(subject, body, headers, prevSeq, digest);
      if (ack === 'conflict') {
        this.heads.delete(channel);
        this.stats.publishConflicts += 1;
        if (attempt >= MAX_PUBLISH_ATTEMPTS || Date.now() > deadline) {
          throw new BrokerUnavailableError(`publish to ${channel}: still contended after ${attempt} attempts`);
        }
        continue;
      }
      if (ack.duplicate) return this.firstResult(channel, subject, ack.seq, digest!, data, options.tags);
      this.rememberHead(channel, { seq: ack.seq, epoch, offset: pub.offset });
      if (digest) this.saveIdempotency(digest, pub);
      return pub;
    }
  }

  /** A repeated idempotency key: the first publication, from history or, once it left, from its saved result. */
  private async firstResult(
    channel: string,
    subject: string,
    seq: number,
    digest: string,
    data: JsonData,
    tags: Record<string, string> | undefined,
  ): Promise<Publication> {
    const original = await this.store.bySeq(seq);
    if (original && original.subject === subject) {
      try {
        return decodePublication(channel, original.headers, original.data).pub;
      } catch (err) {
        this.decodeFailed(channel, `stream sequence ${seq}`, err);
        throw err;
      }
    }
    const saved = await this.store.readIdempotency(digest);
    if (!saved) {
      throw new Error(`publish to ${channel}: duplicate of stream sequence ${seq}, whose result is no longer known`);
    }
    const pub: Publication = { channel, epoch: saved.epoch, offset: saved.offset, time: saved.time, data };
    if (tags) pub.tags = tags;
    return pub;
  }

  private saveIdempotency(digest: string, pub: Publication): void {
    // Needed only once the publication has left history, so it is not awaited by publish().
    const p = this.store
      .writeIdempotency(digest, { epoch: pub.epoch, offset: pub.offset, time: pub.time })
      .catch((err: unknown) => {
        this.stats.idempotencyWriteErrors += 1;
        this.log.warn('could not save an idempotency result', { channel: pub.channel, offset: pub.offset, err: String(err) });
      })
      .finally(() => this.background.delete(p));
    this.background.add(p);
  }

  private async startLive(channel: string, subject: string): Promise<void> {
    if (this.live.has(channel)) return;
    this.assertUsable();
    const sequencer = new ChannelSequencer(channel, {
      deliver: (pub) => this.deliver(pub),
      gap: (ch, reason) => this.reportGap(ch, reason),
      reorderWindowMs: this.options.reorderWindowMs ?? 1_000,
      maxBuffered: 1_000,
    });
    const sub = this.nc.subscribe(subject, { callback: (err, msg) => this.onLive(channel, sequencer, err, msg) });
    this.live.set(channel, { sub, sequencer });
    try {
      // Once the server has the interest, read the head: everything stored later arrives live.
      await withTimeout(`subscribe ${channel}`, this.timeoutMs, this.nc.flush());
      const found = await this.store.head(channel);
      sequencer.start(found ? { kind: 'position', position: { epoch: found.head.epoch, offset: found.head.offset } } : { kind: 'empty' });
    } catch (err) {
      this.live.delete(channel);
      sequencer.dispose();
      sub.unsubscribe();
      throw toBrokerError(`subscribe ${channel}`, err);
    }
  }

  private onLive(channel: string, sequencer: ChannelSequencer, err: Error | null, msg: Msg): void {
    if (err) {
      this.log.warn('live subscription error', { channel, err: String(err) });
      return;
    }
    let pub: Publication;
    try {
      pub = decodePublication(channel, msg.headers, msg.data).pub;
    } catch (e) {
      this.decodeFailed(channel, `live message ${msg.headers?.get('Nats-Sequence') ?? '?'}`, e);
      // A publication this node cannot read is one its subscribers miss.
      this.reportGap(channel, 'undecodable live message');
      return;
    }
    const before = sequencer.duplicates;
    sequencer.push(pub);
    this.stats.duplicatesDropped += sequencer.duplicates - before;
  }

  private deliver(pub: Publication): void {
    try {
      this.handler?.onPublication(pub);
    } catch (err) {
      this.log.warn('onPublication threw', { channel: pub.channel, offset: pub.offset, err: String(err) });
    }
  }

  private reportGap(channel: string, reason: string): void {
    this.stats.gaps += 1;
    this.log.warn('live delivery gap, recovering from history', { channel, reason });
    try {
      this.handler?.onGap?.(channel);
    } catch (err) {
      this.log.warn('onGap threw', { channel, err: String(err) });
    }
  }

  private decodeFailed(channel: string, where: string, err: unknown): void {
    this.stats.decodeErrors += 1;
    this.log.warn('cannot decode a stored publication', { channel, where, err: String(err) });
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        // Whatever arrives after the reconnect becomes each channel's new baseline.
        for (const live of this.live.values()) live.sequencer.forget();
        this.log.warn('NATS disconnected', { server: s.server });
      } else if (s.type === 'reconnect') {
        this.connected = true;
        // The stream may have been recreated meanwhile: cached heads could match a new stream's sequences.
        this.heads.clear();
        this.log.warn('NATS reconnected', { server: s.server });
        for (const channel of this.live.keys()) this.reportGap(channel, 'NATS reconnected');
      } else if (s.type === 'slowConsumer') {
        this.log.warn('slow consumer', { subject: s.sub.getSubject(), pending: s.pending });
      } else if (s.type === 'error') {
        this.log.warn('NATS error', { err: String(s.error) });
      }
    }
  }

  private assertUsable(): void {
    if (this.closed || this.nc.isClosed()) throw new BrokerUnavailableError('the NATS broker is closed');
    if (!this.connected) throw new BrokerUnavailableError('NATS is disconnected');
  }

  /** Maps connection trouble to BrokerUnavailableError; recreates the stream once if it was deleted. */
  private async guarded<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      this.assertUsable();
      return await op();
    } catch (err) {
      if (!isStreamMissing(err) || this.closed) throw toBrokerError(what, err);
      this.log.warn('JetStream stream missing, creating it again', { stream: this.space.stream });
      this.heads.clear();
      try {
        await this.store.ensureStream();
        return await op();
      } catch (again) {
        throw toBrokerError(what, again);
      }
    }
  }

  private rememberHead(channel: string, head: Head): void {
    this.heads.delete(channel);
    this.heads.set(channel, head);
    if (this.heads.size > HEAD_CACHE_MAX) this.heads.delete(this.heads.keys().next().value!);
  }

  /** Runs fn after every earlier call with the same key has settled. */
  private serial<T>(lanes: Map<string, Promise<unknown>>, key: string, fn: () => Promise<T>): Promise<T> {
    const run = (lanes.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    lanes.set(key, tail);
    void tail.then(() => {
      if (lanes.get(key) === tail) lanes.delete(key);
    });
    return run;
  }
}

export { isUnavailable };
