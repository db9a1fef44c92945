import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../server/broker/memory.js';
import { describeBroker } from './support/broker-conformance.js';

describeBroker('memory', async (o) => {
  let now = 1_000_000;
  const broker = new MemoryBroker({ ...o, sweepIntervalMs: 0, now: () => now });
  const quiet = async (_channel: string, until: 'history' | 'meta') => {
    now += (until === 'history' ? o.historyTtlMs : (o.historyMetaTtlMs ?? 30 * 86_400_000)) + 1;
    broker.sweep();
  };
  return { broker, quiet, close: () => broker.close() };
});

describe('MemoryBroker specifics', () => {
  it('expires history by age and then changes the epoch of an idle channel', async () => {
    let now = 1_000_000;
    const broker = new MemoryBroker({ historySize: 10, historyTtlMs: 1000, sweepIntervalMs: 0, now: () => now });
    const first = await broker.publish('news', 'old');
    now += 500;
    await broker.publish('news', 'newer');
    now += 600; // 'old' is now 1100 ms old
    const page = await broker.history('news');
    expect(page.publications.map((p) => p.data)).toEqual(['newer']);
    now += 1000;
    broker.sweep();
    expect(broker.streamCount).toBe(0);
    const again = await broker.publish('news', 'fresh');
    expect(again.offset).toBe(1);
    expect(again.epoch).not.toBe(first.epoch);
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
