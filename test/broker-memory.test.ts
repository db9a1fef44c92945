import { describe, expect, it } from 'vitest';
import { emptyEpoch } from '../contract/empty-epoch.js';
import { UnrecoverablePositionError } from '../server/broker/broker.js';
import { MemoryBroker } from '../server/broker/memory.js';
import { describeBroker } from './support/broker-conformance.js';

describeBroker('memory', async (o) => {
  let now = 1_000_000;
  const broker = new MemoryBroker({ ...o, sweepIntervalMs: 0, now: () => now });
  const quiet = async (_channel: string, until: 'history' | 'meta') => {
    now += (until === 'history' ? o.historyTtlMs : (o.historyMetaTtlMs ?? 30 * 86_400_000)) + 1;
    broker.sweep();
  };
  // A stream or a kept position is what the memory broker writes per channel (sweep turns one into the other).
  const writes = async () => {
    broker.sweep();
    return broker.streamCount + broker.quietCount;
  };
  return { broker, quiet, writes, close: () => broker.close() };
});

describe('MemoryBroker specifics', () => {
  it('expires history by age, keeps an idle channel\'s position without its stream, and forgets it after the meta TTL', async () => {
    let now = 1_000_000;
    const broker = new MemoryBroker({ historySize: 10, historyTtlMs: 1000, historyMetaTtlMs: 10_000, sweepIntervalMs: 0, now: () => now });
    const first = await broker.publish('news', 'old');
    now += 500;
    const newer = await broker.publish('news', 'newer');
    now += 600; // 'old' is now 1100 ms old
    const page = await broker.history('news');
    expect(page.publications.map((p) => p.data)).toEqual(['newer']);
    now += 1000;
    broker.sweep();
    expect([broker.streamCount, broker.quietCount]).toEqual([0, 1]);
    // Reading the kept position neither revives the stream for good nor extends the meta TTL.
    expect(await broker.position('news')).toEqual({ epoch: first.epoch, offset: 2 });
    broker.sweep();
    expect([broker.streamCount, broker.quietCount]).toEqual([0, 1]);
    now = newer.time + 10_000;
    broker.sweep();
    expect([broker.streamCount, broker.quietCount]).toEqual([0, 0]);
    const again = await broker.publish('news', 'fresh');
    expect(again.offset).toBe(1);
    expect(again.epoch).not.toBe(first.epoch);
  });

  it('forgets the oldest quiet channel first past historyMetaMaxChannels', async () => {
    let now = 0;
    const broker = new MemoryBroker({ historySize: 10, historyTtlMs: 10, historyMetaMaxChannels: 2, sweepIntervalMs: 0, now: () => now });
    const last = new Map<string, { epoch: string; offset: number }>();
    for (const ch of ['a', 'b', 'c']) {
      const pub = await broker.publish(ch, ch);
      last.set(ch, { epoch: pub.epoch, offset: pub.offset });
      now += 20;
      broker.sweep();
    }
    expect(broker.quietCount).toBe(2);
    expect(await broker.position('c')).toEqual(last.get('c'));
    expect(await broker.position('b')).toEqual(last.get('b'));
    const a = await broker.position('a');
    expect(a.offset).toBe(0);
    await expect(broker.history('a', { since: last.get('a') })).rejects.toBeInstanceOf(UnrecoverablePositionError);
  });

  it('keeps the stream of a subscribed channel even when its history is empty', async () => {
    let now = 0;
    const broker = new MemoryBroker({ historySize: 10, historyTtlMs: 10, sweepIntervalMs: 0, now: () => now });
    await broker.subscribe('live');
    const p = await broker.publish('live', 1);
    now += 100;
    broker.sweep();
    expect((await broker.position('live')).epoch).toBe(p.epoch);
  });

  it('forgets idempotency keys after the window', async () => {
    let now = 0;
    const broker = new MemoryBroker({
      historySize: 10,
      historyTtlMs: 60_000,
      idempotencyWindowMs: 100,
      sweepIntervalMs: 0,
      now: () => now,
    });
    await broker.publish('c', 1, { idempotencyKey: 'k' });
    now += 200;
    const second = await broker.publish('c', 1, { idempotencyKey: 'k' });
    expect(second.offset).toBe(2);
  });
});

describe('MemoryBroker and an empty position (0<T>:0)', () => {
  const limits = { historySize: 10, historyTtlMs: 60_000, historyMetaTtlMs: 600_000, sweepIntervalMs: 0 };

  // The skew allowance is 1 s: a clock stepped back by up to 1 s between the read and the publish
  // (NTP) still counts offset 1 as after the observation; a second more does not.
  it('recovers offset 1 stored up to 1 s before the time the empty position says, not earlier', async () => {
    let now = 5_000_000;
    const broker = new MemoryBroker({ ...limits, now: () => now });
    const seen = await broker.position('c');
    expect(seen).toEqual({ epoch: emptyEpoch(5_000_000), offset: 0 });
    now -= 1_000;
    const first = await broker.publish('c', 1);
    expect((await broker.history('c', { since: seen })).publications.map((p) => p.offset)).toEqual([1]);
    now = 5_000_000;
    const other = await broker.position('d');
    now -= 1_001;
    const tooEarly = await broker.publish('d', 1);
    await expect(broker.history('d', { since: other })).rejects.toMatchObject({ current: { epoch: tooEarly.epoch, offset: 1 } });
    expect(first.epoch).not.toBe(tooEarly.epoch);
  });

  it('refuses an empty position from before the broker started: what it held then is gone', async () => {
    let now = 5_000_000;
    const before = new MemoryBroker({ ...limits, now: () => now });
    const seen = await before.position('c');
    now += 10;
    const restarted = new MemoryBroker({ ...limits, now: () => now });
    await expect(restarted.history('c', { since: seen })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    await restarted.publish('c', 1);
    await expect(restarted.history('c', { since: seen })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    expect((await restarted.history('c', { since: { epoch: emptyEpoch(now), offset: 0 } })).publications).toHaveLength(1);
  });

  // A generation that started after T and whose kept position the bound evicted would be unseen.
  it('refuses an empty position seen before a kept position was evicted by historyMetaMaxChannels', async () => {
    let now = 5_000_000;
    const broker = new MemoryBroker({ ...limits, historyTtlMs: 10, historyMetaMaxChannels: 1, now: () => now });
    const seen = await broker.position('c');
    await broker.publish('c', 'lost');
    now += 20;
    broker.sweep();
    await broker.publish('d', 'evicts c');
    now += 20;
    broker.sweep();
    expect(broker.quietCount).toBe(1);
    const again = await broker.publish('c', 'a new generation');
    expect(again.offset).toBe(1);
    await expect(broker.history('c', { since: seen })).rejects.toMatchObject({ current: { epoch: again.epoch, offset: 1 } });
    // Seen after the eviction: nothing can hide between then and the new offset 1.
    const later = await broker.position('e');
    await broker.publish('e', 1);
    expect((await broker.history('e', { since: later })).publications).toHaveLength(1);
  });
});
