import { describe, expect, it } from 'vitest';
import { MAX_SAMPLED_CHANNELS, NodeSampler, mergeChannels } from '../server/cluster/node-stats.js';

// The admin dashboard's counters: publication rates from the offset moved between two samples,
// the busiest channels only, and one list for the cluster. A manual clock, no waiting.

function source() {
  const channels = new Map<string, { subscribers: number; epoch: string; offset: number }>();
  return {
    channels,
    connections: () => 7,
    channelPositions: () => [...channels].map(([channel, c]) => ({ channel, ...c })),
  };
}

describe('NodeSampler', () => {
  it('measures publications per second from the offsets between two samples', () => {
    let now = 1_000_000;
    const src = source();
    src.channels.set('news', { subscribers: 2, epoch: 'e1', offset: 10 });
    const sampler = new NodeSampler(src, () => now);
    expect(sampler.sample().channels).toEqual([{ channel: 'news', subscribers: 2, offset: 10, rate: 0 }]);
    now += 4000;
    src.channels.set('news', { subscribers: 2, epoch: 'e1', offset: 30 });
    const second = sampler.sample();
    expect(second.channels[0]!.rate).toBe(5);
    expect(second.stats).toMatchObject({ connections: 7, subscriptions: 2, channels: 1 });
    expect(second.stats.rss).toBeGreaterThan(0);
  });

  it('counts a new epoch from offset 0, and reuses a sample taken less than a second ago', () => {
    let now = 0;
    const src = source();
    src.channels.set('a', { subscribers: 1, epoch: 'e1', offset: 100 });
    const sampler = new NodeSampler(src, () => now);
    sampler.sample();
    now += 2000;
    src.channels.set('a', { subscribers: 1, epoch: 'e2', offset: 4 });
    const after = sampler.sample();
    expect(after.channels[0]!.rate).toBe(2);
    now += 500;
    src.channels.set('a', { subscribers: 1, epoch: 'e2', offset: 500 });
    expect(sampler.sample()).toBe(after);
  });

  it(`keeps the ${MAX_SAMPLED_CHANNELS} busiest channels, so a heartbeat stays bounded`, () => {
    const src = source();
    for (let i = 0; i < MAX_SAMPLED_CHANNELS + 50; i++) src.channels.set(`c${i}`, { subscribers: i, epoch: 'e', offset: 0 });
    const sample = new NodeSampler(src).sample();
    expect(sample.channels).toHaveLength(MAX_SAMPLED_CHANNELS);
    expect(sample.channels[0]!.channel).toBe(`c${MAX_SAMPLED_CHANNELS + 49}`);
    expect(sample.stats.channels).toBe(MAX_SAMPLED_CHANNELS + 50);
  });
});

describe('mergeChannels', () => {
  it('adds subscribers across nodes and keeps the stream rate once', () => {
    const merged = mergeChannels([
      [{ channel: 'news', subscribers: 2, offset: 9, rate: 1.5 }],
      [
        { channel: 'news', subscribers: 3, offset: 10, rate: 1.5 },
        { channel: 'chat', subscribers: 1, offset: 2, rate: 0 },
      ],
    ]);
    expect(merged).toEqual([
      { channel: 'news', subscribers: 5, offset: 10, rate: 1.5, nodes: 2 },
      { channel: 'chat', subscribers: 1, offset: 2, rate: 0, nodes: 1 },
    ]);
  });
});
