import { describe, expect, it } from 'vitest';
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
