// Live delivery of the channels this node subscribed to: one core NATS subscription per channel on
// the stream's republish subject, its messages put back in offset order by a ChannelSequencer.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Publication } from '../../../contract/index.js';
import { KeyedQueue } from '../../keyed-queue.js';
import { decodeMessage, isSeal } from './codec.js';
import type { EpochRecords } from './epochs.js';
import { toBrokerError, withTimeout } from './errors.js';
import type { NatsBrokerStats } from './options.js';
import { ChannelSequencer } from './sequencer.js';
import type { ChannelStore } from './store.js';

export interface LiveContext {
  nc: NatsConnection;
  store: ChannelStore;
  epochs: EpochRecords;
  timeoutMs: number;
  reorderWindowMs: number;
  stats: Pick<NatsBrokerStats, 'duplicatesDropped'>;
  /** Throws BrokerUnavailableError when the connection is down or closed. */
  assertUsable(): void;
  deliver(pub: Publication): void;
  reportGap(channel: string, reason: string): void;
  decodeFailed(channel: string, where: string, err: unknown): void;
  warn(message: string, context: Record<string, unknown>): void;
}

interface LiveSubscription {
  sub: Subscription;
  sequencer: ChannelSequencer;
}

export class LiveChannels {
  /** subscribe()/unsubscribe() of one channel run in call order. */
  private readonly subscribeLanes = new KeyedQueue();
  private readonly live = new Map<string, LiveSubscription>();

  constructor(private readonly ctx: LiveContext) {}

  subscribe(channel: string, subject: string): Promise<void> {
    return this.subscribeLanes.run(channel, () => this.startLive(channel, subject));
  }

  unsubscribe(channel: string): Promise<void> {
    return this.subscribeLanes.run(channel, async () => {
      const live = this.live.get(channel);
      if (!live) return;
      this.live.delete(channel);
      live.sequencer.dispose();
      live.sub.unsubscribe();
    });
  }

  /** The channels subscribed live, in subscription order. */
  channels(): IterableIterator<string> {
    return this.live.keys();
  }

  /** Whatever arrives after the reconnect becomes each channel's new baseline. */
  forgetPositions(): void {
    for (const live of this.live.values()) live.sequencer.forget();
  }

  /** At close: every sequencer stops; the subscriptions end with the connection's drain or close. */
  dispose(): void {
    for (const live of this.live.values()) live.sequencer.dispose();
    this.live.clear();
  }

  private async startLive(channel: string, subject: string): Promise<void> {
    if (this.live.has(channel)) return;
    this.ctx.assertUsable();
    const sequencer = new ChannelSequencer(channel, {
      deliver: (pub) => this.ctx.deliver(pub),
      gap: (ch, reason) => this.ctx.reportGap(ch, reason),
      reorderWindowMs: this.ctx.reorderWindowMs,
      maxBuffered: 1_000,
    });
    const sub = this.ctx.nc.subscribe(subject, { callback: (err, msg) => this.onLive(channel, sequencer, err, msg) });
    this.live.set(channel, { sub, sequencer });
    try {
      // Once the server has the interest, read the head: everything stored later arrives live.
      await withTimeout(`subscribe ${channel}`, this.ctx.timeoutMs, this.ctx.nc.flush());
      const found = await this.ctx.store.head(channel);
      // Nothing stored: a closed generation goes on after its last offset (a record read after the
      // empty head still says closed only if nothing was appended since: reopening comes first).
      const rec = found ? null : await this.ctx.epochs.read(channel);
      const head = found?.head ?? (rec?.state === 'closed' ? rec : undefined);
      sequencer.start(head ? { kind: 'position', position: { epoch: head.epoch, offset: head.offset } } : { kind: 'empty' });
    } catch (err) {
      this.live.delete(channel);
      sequencer.dispose();
      sub.unsubscribe();
      throw toBrokerError(`subscribe ${channel}`, err);
    }
  }

  private onLive(channel: string, sequencer: ChannelSequencer, err: Error | null, msg: Msg): void {
    if (err) {
      this.ctx.warn('live subscription error', { channel, err: String(err) });
      return;
    }
    // A seal repeats the channel's position: nothing to deliver, nothing missed.
    if (isSeal(msg.headers)) return;
    let pubs: Publication[];
    try {
      // One message may be a batch of consecutive publications: each goes through the sequencer.
      pubs = decodeMessage(channel, msg.headers, msg.data).pubs;
    } catch (e) {
      this.ctx.decodeFailed(channel, `live message ${msg.headers?.get('Nats-Sequence') ?? '?'}`, e);
      // A publication this node cannot read is one its subscribers miss.
      this.ctx.reportGap(channel, 'undecodable live message');
      return;
    }
    const before = sequencer.duplicates;
    for (const pub of pubs) sequencer.push(pub);
    this.ctx.stats.duplicatesDropped += sequencer.duplicates - before;
  }
}
