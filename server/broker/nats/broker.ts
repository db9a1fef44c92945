import { setTimeout as sleep } from 'node:timers/promises';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import type { JsonData, Publication, StreamPosition } from '../../../contract/index.js';
import {
  type Broker,
  type BrokerHandler,
  BrokerUnavailableError,
  type HistoryPage,
  type HistoryQuery,
  type PublishOptions,
} from '../broker.js';
import { NatsDecodeError } from './codec.js';
import { EpochRecords, channelState } from './epochs.js';
import { isUnavailable, toBrokerError, withTimeout } from './errors.js';
import { readHistory } from './history.js';
import { LiveChannels } from './live-channels.js';
import { type NatsBrokerOptions, type NatsBrokerStats, storeLimits } from './options.js';
import { type Logger, consoleLogger } from '../../logger.js';
import { OffsetAppender } from './offset-appender.js';
import { Sealer } from './seal.js';
import { ChannelStore, isStreamMissing } from './store.js';
import { type SubjectSpace, assertChannel, subjectSpace } from './subject.js';

export type { NatsBrokerOptions, NatsBrokerStats } from './options.js';

/** nats-server's default, for the moment before the connection reported its own. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Broker over NATS JetStream, shared by every Hubbub node of a deployment (docs/nats-design.md).
 * Offsets are taken by conditional appends to the channel's subject; live delivery comes from the
 * stream's republish, so only stored publications are ever delivered.
 */
export class NatsBroker implements Broker {
  readonly kind = 'nats';

  get ready(): boolean {
    return this.connected && !this.closed;
  }
  readonly stats: NatsBrokerStats = { disconnects: 0, reconnects: 0, decodeErrors: 0, publishConflicts: 0, gaps: 0, duplicatesDropped: 0, seals: 0 };
  private handler: BrokerHandler | undefined;
  private connected = true;
  private closed = false;
  private readonly log: Pick<Logger, 'warn'>;
  private readonly timeoutMs: number;
  private readonly epochs: EpochRecords;
  private readonly appender: OffsetAppender;
  private readonly sealer: Sealer;
  private readonly live: LiveChannels;
  private readonly consumerPath = { downUntil: 0 };

  private constructor(
    private readonly nc: NatsConnection,
    private readonly store: ChannelStore,
    private readonly space: SubjectSpace,
    private readonly options: NatsBrokerOptions,
  ) {
    this.log = options.logger ?? consoleLogger;
    this.timeoutMs = options.requestTimeoutMs ?? 2_000;
    this.epochs = new EpochRecords(store, this.timeoutMs);
    this.appender = new OffsetAppender({
      store,
      epochs: this.epochs,
      timeoutMs: this.timeoutMs,
      assertUsable: () => this.assertUsable(),
      maxPayload: () => this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD,
      onStored: (pub) => this.sealer.saw(pub.channel, pub.time),
      onConflict: () => void (this.stats.publishConflicts += 1),
      onDecodeError: (channel, where, err) => this.decodeFailed(channel, where, err),
      warn: (message, context) => this.log.warn(message, context),
    });
    const grace = store.limits.sealGraceMs;
    this.sealer = new Sealer({
      store,
      epochs: this.epochs,
      historyTtlMs: options.historyTtlMs,
      intervalMs: Math.max(50, Math.min(5_000, grace / 4)),
      maxTracked: 100_000,
      onSealed: (channel) => {
        this.stats.seals += 1;
        this.appender.forgetHead(channel);
      },
      warn: (message, context) => this.log.warn(message, context),
    });
    this.live = new LiveChannels({
      nc,
      store,
      epochs: this.epochs,
      timeoutMs: this.timeoutMs,
      reorderWindowMs: options.reorderWindowMs ?? 1_000,
      stats: this.stats,
      assertUsable: () => this.assertUsable(),
      deliver: (pub) => this.deliver(pub),
      reportGap: (channel, reason) => this.reportGap(channel, reason),
      decodeFailed: (channel, where, err) => this.decodeFailed(channel, where, err),
      warn: (message, context) => this.log.warn(message, context),
    });
    void this.watchStatus();
    // A deleted and recreated stream restarts its sequences, which a cached head could then match.
    nc.subscribe(`$JS.EVENT.ADVISORY.STREAM.*.${space.stream}`, { callback: () => this.appender.forgetHeads() });
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
        // Otherwise every request builds its would-be timeout and request errors, stack traces and
        // all, before it is sent: 17% of the CPU of a NATS node publishing to 10,000 channels. Our
        // errors name the operation and the channel instead.
        noAsyncTraces: true,
      });
    } catch (err) {
      throw new BrokerUnavailableError(`cannot connect to NATS at ${String(options.servers)}`, { cause: err });
    }
    try {
      const store = await ChannelStore.open(nc, space, storeLimits(options));
      return new NatsBroker(nc, store, space, options);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw toBrokerError('setting up the JetStream streams', err);
    }
  }

  setHandler(handler: BrokerHandler): void {
    this.handler = handler;
  }

  async publish(channel: string, data: JsonData, options: PublishOptions = {}): Promise<Publication> {
    const subject = this.space.history(channel);
    return this.guarded('publish', channel, () => this.appender.publish(channel, subject, data, options));
  }

  async subscribe(channel: string): Promise<void> {
    const subject = this.space.live(channel);
    return this.live.subscribe(channel, subject);
  }

  async unsubscribe(channel: string): Promise<void> {
    assertChannel(channel);
    return this.live.unsubscribe(channel);
  }

  async history(channel: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    assertChannel(channel);
    return this.guarded('history', channel, () =>
      readHistory(
        {
          store: this.store,
          epochs: this.epochs,
          historySize: this.options.historySize,
          historyTtlMs: this.options.historyTtlMs,
          now: Date.now,
          walkLimit: this.options.historyWalkLimit ?? 16,
          consumers: this.consumerPath,
        },
        channel,
        query,
      ),
    );
  }

  async position(channel: string): Promise<StreamPosition> {
    assertChannel(channel);
    return this.guarded('position', channel, async () => {
      const state = await channelState(this.store, this.epochs, channel);
      return state.kind === 'stored' ? { epoch: state.head.epoch, offset: state.head.offset } : { epoch: state.epoch, offset: state.offset };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sealer.stop();
    this.live.dispose();
    this.handler = undefined;
    if (this.nc.isClosed()) return;
    try {
      // Drain delivers what is in flight and flushes pending publishes; it cannot while disconnected.
      if (!this.connected) throw new BrokerUnavailableError('NATS is disconnected');
      await withTimeout('drain', this.timeoutMs, this.nc.drain());
    } catch (err) {
      this.log.warn('could not drain the NATS connection, closing it', { err: String(err) });
      await this.nc.close();
    }
  }

  private deliver(pub: Publication): void {
    // Every node that delivers a channel live can seal it, not only the one that published.
    this.sealer.saw(pub.channel, pub.time);
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
        this.stats.disconnects += 1;
        this.live.forgetPositions();
        this.log.warn('NATS disconnected', { server: s.server });
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.stats.reconnects += 1;
        this.appender.forgetHeads();
        this.log.warn('NATS reconnected', { server: s.server });
        void this.gapsAfterReconnect();
      } else if (s.type === 'slowConsumer') {
        this.log.warn('slow consumer', { subject: s.sub.getSubject(), pending: s.pending });
      } else if (s.type === 'error') {
        this.log.warn('NATS error', { err: String(s.error) });
      }
    }
  }

  /**
   * Live channels may have missed publications while NATS was away. The hub recovers them from
   * history on onGap, so report it once history answers again: right after a reconnect JetStream
   * may still be electing leaders (a cluster that lost a server) and the first reads would fail.
   */
  private async gapsAfterReconnect(): Promise<void> {
    const probe = this.live.channels().next().value;
    const deadline = Date.now() + 30_000;
    for (let attempt = 1; probe !== undefined && this.connected && !this.closed; attempt++) {
      try {
        await this.store.head(probe);
        break;
      } catch (err) {
        if (!isUnavailable(err) || Date.now() > deadline) break;
        await sleep(Math.min(1_000, 50 * attempt));
      }
    }
    for (const channel of this.live.channels()) this.reportGap(channel, 'NATS reconnected');
  }

  private assertUsable(): void {
    if (this.closed || this.nc.isClosed()) throw new BrokerUnavailableError('the NATS broker is closed');
    // Fail fast: nats.js would buffer the request until the reconnect, past any sane timeout.
    if (!this.connected) throw new BrokerUnavailableError('NATS is disconnected');
  }

  /** Maps connection trouble to BrokerUnavailableError; recreates the streams once if they were deleted. */
  private async guarded<T>(what: string, channel: string, op: () => Promise<T>): Promise<T> {
    try {
      this.assertUsable();
      return await op();
    } catch (err) {
      if (!isStreamMissing(err) || this.closed) throw this.failed(what, channel, err);
      this.log.warn('JetStream stream missing, creating it again', { stream: this.space.stream });
      this.appender.forgetHeads();
      try {
        await this.store.ensureStreams();
        return await op();
      } catch (again) {
        throw this.failed(what, channel, again);
      }
    }
  }

  private failed(what: string, channel: string, err: unknown): unknown {
    if (err instanceof NatsDecodeError) this.decodeFailed(channel, what, err);
    return toBrokerError(`${what} ${channel}`, err);
  }
}
