import type { AdminChannel } from '../../contract/index.js';

// What each node tells the others with its heartbeat, for the admin dashboard: its counters and
// its busiest channels. Read from counters the node keeps anyway, once per heartbeat (or per
// dashboard refresh on a single node): nothing here runs per delivery.

export interface NodeStats {
  connections: number;
  subscriptions: number;
  channels: number;
  rss: number;
  /** Percent of one core since the previous sample. */
  cpu: number;
}

/** One channel on one node: publications per second from the offset moved between two samples. */
export interface ChannelSample {
  channel: string;
  subscribers: number;
  offset: number;
  rate: number;
}

export interface NodeSample {
  stats: NodeStats;
  channels: ChannelSample[];
}

/** What the sampler reads: the transports' connection count and the hub's channels. */
export interface SampleSource {
  connections(): number;
  channelPositions(): Array<{ channel: string; subscribers: number; epoch: string; offset: number }>;
}

/** Channels a heartbeat carries at most, the busiest first: bounds the heartbeat's size. */
export const MAX_SAMPLED_CHANNELS = 1000;

/** Samples closer than this reuse the previous one, so two quick reads do not measure a rate over a few ms. */
const MIN_INTERVAL_MS = 1000;

export class NodeSampler {
  private last: { at: number; cpu: NodeJS.CpuUsage; sample: NodeSample } | undefined;
  private positions = new Map<string, { epoch: string; offset: number }>();

  constructor(
    private readonly source: SampleSource,
    private readonly now: () => number = Date.now,
  ) {}

  sample(): NodeSample {
    const at = this.now();
    if (this.last && at - this.last.at < MIN_INTERVAL_MS) return this.last.sample;
    const seconds = this.last ? (at - this.last.at) / 1000 : 0;
    const cpuNow = process.cpuUsage();
    // The first sample has nothing to compare with: its CPU figure is the average since the process started.
    const cpuSince = this.last?.cpu ?? { user: 0, system: 0 };
    const cpuSeconds = this.last ? seconds : process.uptime();
    const cpuUsed = cpuNow.user - cpuSince.user + (cpuNow.system - cpuSince.system);
    const all = this.source.channelPositions();
    const top = all.sort((a, b) => b.subscribers - a.subscribers || a.channel.localeCompare(b.channel)).slice(0, MAX_SAMPLED_CHANNELS);
    const positions = new Map<string, { epoch: string; offset: number }>();
    const channels = top.map(({ channel, subscribers, epoch, offset }): ChannelSample => {
      positions.set(channel, { epoch, offset });
      const before = this.positions.get(channel);
      // A new epoch restarts offsets from 0: everything up to `offset` is then new.
      const moved = before === undefined ? 0 : before.epoch === epoch ? offset - before.offset : offset;
      return { channel, subscribers, offset, rate: seconds > 0 ? round(moved / seconds) : 0 };
    });
    this.positions = positions;
    const stats: NodeStats = {
      connections: this.source.connections(),
      subscriptions: all.reduce((n, c) => n + c.subscribers, 0),
      channels: all.length,
      rss: process.memoryUsage.rss(),
      cpu: cpuSeconds > 0 ? round(cpuUsed / 10_000 / cpuSeconds) : 0,
    };
    const sample = { stats, channels };
    this.last = { at, cpu: cpuNow, sample };
    return sample;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** The channels of every node as one list: subscribers add up, the rate and offset are the stream's (the same on every node). */
export function mergeChannels(perNode: Iterable<readonly ChannelSample[]>): AdminChannel[] {
  const merged = new Map<string, AdminChannel>();
  for (const list of perNode) {
    for (const c of list) {
      const row = merged.get(c.channel);
      if (!row) merged.set(c.channel, { channel: c.channel, subscribers: c.subscribers, rate: c.rate, offset: c.offset, nodes: 1 });
      else {
        row.subscribers += c.subscribers;
        row.rate = Math.max(row.rate, c.rate);
        row.offset = Math.max(row.offset, c.offset);
        row.nodes += 1;
      }
    }
  }
  return [...merged.values()].sort((a, b) => b.subscribers - a.subscribers || a.channel.localeCompare(b.channel));
}
