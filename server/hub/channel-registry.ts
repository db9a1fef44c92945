import type { PresenceEntry } from '../../contract/index.js';
import type { Broker } from '../broker/broker.js';
import { type ChannelEntry, channelPositions, presenceOf, subscriberCounts } from './channel-entry.js';
import { BrokerInterest } from './interest.js';
import { type Logger, consoleLogger } from '../logger.js';
import type { HubOptions } from './options.js';
import { RecentWindow } from './recent.js';
import type { Subscriber } from './subscriber.js';

// The hub's channels and who is in them: an entry per channel followed at the broker (followed on
// first use, unfollowed after its last subscriber left and a linger passed), the occupancy events
// of the webhooks, presence and its join/leave publications, and the counts metrics and admin read.
// Hub (hub.ts) extends it with subscribing, recovery and fan-out.

export class ChannelRegistry {
  protected readonly channels = new Map<string, ChannelEntry>();
  protected readonly interest: BrokerInterest;
  protected readonly logger: Pick<Logger, 'warn'>;
  protected readonly now: () => number;
  private readonly nodeId: string;
  private readonly presenceEvents: (channel: string) => boolean;
  private readonly lingerMs: number;
  private readonly recentSize: number;
  private readonly historySize: number;
  private readonly historyTtlMs: number;
  private readonly occupancy: ((channel: string, occupied: boolean) => void) | undefined;

  constructor(
    readonly broker: Broker,
    options: HubOptions,
  ) {
    this.logger = options.logger ?? consoleLogger;
    this.nodeId = options.nodeId ?? 'local';
    this.presenceEvents = options.presenceEvents ?? (() => false);
    this.now = options.now ?? Date.now;
    this.lingerMs = options.lingerMs ?? 2000;
    this.historySize = options.historySize ?? 100;
    this.historyTtlMs = options.historyTtlMs ?? 300_000;
    this.recentSize = Math.min(options.recentSize ?? 128, this.historySize);
    this.occupancy = options.occupancy;
    this.interest = new BrokerInterest(broker, (m, e) => this.logger.warn(m, e));
  }

  /** This node's subscribers of a channel that have an identity (long-lived connections). */
  presence(channel: string): PresenceEntry[] {
    const entry = this.channels.get(channel);
    return entry ? presenceOf(entry, this.nodeId) : [];
  }

  protected occupy(entry: ChannelEntry): void {
    if (entry.occupied) return;
    entry.occupied = true;
    this.occupancy?.(entry.name, true);
  }

  protected announce(channel: string, sub: Subscriber, type: 'join' | 'leave'): void {
    const id = sub.identity;
    // Only identified users: anonymous subscribe/unsubscribe churn must not push real messages out of history.
    if (!id || id.user === null || id.hidden || !this.presenceEvents(channel)) return;
    // The user's public info (from the token) rides along, so a page can name who came and went
    // without the presence API, which takes an API key.
    const info = id.info?.(channel);
    const data = { type, client: id.client, user: id.user, node: this.nodeId, ...(info === undefined ? {} : { info }) };
    this.broker.publish(channel, data, { tags: { hubbub: type } }).catch((err) => this.logger.warn(`${type} publication to ${channel} failed`, err));
  }

  /** Channels with local subscribers and their counts. */
  channelCounts(): Array<{ channel: string; subscribers: number }> {
    return subscriberCounts(this.channels.values());
  }

  /** Channels with local subscribers, their counts and last delivered position (sampled, never per delivery). */
  channelPositions(): ReturnType<typeof channelPositions> {
    return channelPositions(this.channels.values());
  }

  get subscriptionCount(): number {
    return subscriberCounts(this.channels.values()).reduce((n, c) => n + c.subscribers, 0);
  }

  /** Channels with at least one local subscriber. */
  get channelCount(): number {
    return subscriberCounts(this.channels.values()).length;
  }

  /** Channels the hub follows at the broker, lingering ones included. */
  get followedCount(): number {
    return this.channels.size;
  }

  /** Stops following the channels it only lingers on, and waits for the broker calls queued so far (shutdown, tests). */
  async stopLingering(): Promise<void> {
    for (const entry of [...this.channels.values()]) {
      if (entry.linger) {
        clearTimeout(entry.linger);
        entry.linger = undefined;
        this.unfollow(entry);
      }
    }
    await this.interest.idle();
  }

  protected entry(channel: string): ChannelEntry {
    let entry = this.channels.get(channel);
    if (!entry) {
      const created: ChannelEntry = {
        name: channel,
        live: new Map(),
        pending: new Map(),
        ready: Promise.resolve(),
        following: false,
        touched: 0,
        last: undefined,
        resync: undefined,
        linger: undefined,
        recent: new RecentWindow(this.recentSize, { size: this.historySize, ttlMs: this.historyTtlMs }),
        occupied: false,
      };
      created.ready = this.interest.follow(channel).then(() => void (created.following = true));
      entry = created;
      this.channels.set(channel, entry);
    } else if (entry.linger) {
      clearTimeout(entry.linger);
      entry.linger = undefined;
    }
    return entry;
  }

  protected release(entry: ChannelEntry): void {
    if (entry.live.size > 0 || entry.pending.size > 0) return;
    if (this.channels.get(entry.name) !== entry || entry.linger) return;
    if (this.lingerMs <= 0) return this.unfollow(entry);
    this.linger(entry, this.lingerMs);
  }

  private linger(entry: ChannelEntry, ms: number): void {
    entry.linger = setTimeout(() => {
      entry.linger = undefined;
      if (entry.live.size > 0 || entry.pending.size > 0) return;
      // Catch-ups answered meanwhile (catchUp) count as uses, as a subscribe and unsubscribe would.
      const left = entry.touched + this.lingerMs - this.now();
      if (left > 0) this.linger(entry, left);
      else this.unfollow(entry);
    }, ms);
    entry.linger.unref();
  }

  private unfollow(entry: ChannelEntry): void {
    if (this.channels.get(entry.name) !== entry) return;
    this.channels.delete(entry.name);
    this.interest.unfollow(entry.name);
    if (entry.occupied) this.occupancy?.(entry.name, false);
  }
}
