import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { type Broker, type HistoryQuery, UnrecoverablePositionError } from '../server/broker/broker.js';
import { MemoryBroker } from '../server/broker/memory.js';
import { subjectSpace } from '../server/broker/nats/subject.js';
import { freshChannel } from './support/broker-conformance.js';
import { admin, node, range, useNatsServer } from './support/nats-nodes.js';

// History over batch messages must read exactly like the memory broker's: history size counts
// publications (the stream's max_msgs_per_subject counts messages, so it may keep more), `since`
// anywhere inside or between batches, on both read paths (walking back, and a consumer).

useNatsServer();

/** Publishes one after another on memory, and on NATS as bursts: each burst of k is stored as messages [1, k-1]. */
async function publishBoth(nats: Broker, memory: Broker, ch: string, bursts: number[]): Promise<void> {
  let n = 0;
  for (const k of bursts) {
    const data = range(k).map((i) => `p${n + i}`);
    n += k;
    await Promise.all(data.map((d) => nats.publish(ch, d)));
    for (const d of data) await memory.publish(ch, d);
  }
}

type Outcome = { offset: number; pubs: Array<[number, unknown]> } | 'unrecoverable';

async function outcome(b: Broker, ch: string, query: HistoryQuery): Promise<Outcome> {
  try {
    const page = await b.history(ch, query);
    return { offset: page.offset, pubs: page.publications.map((p) => [p.offset, p.data]) };
  } catch (err) {
    if (err instanceof UnrecoverablePositionError) return 'unrecoverable';
    throw err;
  }
}

/** How many messages the stream keeps on the channel's subject, and the first offset the oldest one holds. */
async function kept(prefix: string, ch: string): Promise<{ messages: number; oldest: number }> {
  const jsm = await jetstreamManager(admin);
  const subject = subjectSpace(prefix).history(ch);
  const info = await jsm.streams.info(`${prefix}_channels`, { subjects_filter: subject });
  const first = await jsm.streams.getMessage(`${prefix}_channels`, { seq: 0, next_by_subj: subject } as { seq: number });
  const h = first!.header;
  return { messages: info.state.subjects?.[subject] ?? 0, oldest: Number(h.get('Hubbub-Offset')) - Number(h.get('Hubbub-Count') || '1') + 1 };
}

describe.each([5, 100])('NatsBroker history over batches, historySize %i', (historySize) => {
  it('answers every since, limit and reverse as the memory broker does, on both read paths', async () => {
    const prefix = `bh${historySize}`;
    const o = { historySize, historyTtlMs: 60_000 };
    const [writer, walker, consumer] = await Promise.all([
      node(prefix, o),
      node(prefix, { ...o, historyWalkLimit: 1_000 }),
      node(prefix, { ...o, historyWalkLimit: 0 }),
    ]);
    const memory = new MemoryBroker({ ...o, sweepIntervalMs: 0 });
    const ch = freshChannel('bh');
    // Messages [1] [2] [3-6] [7] [8-10] [11] [12-17]: 17 publications in 7 messages; the last batch is longer than 5.
    await publishBoth(writer, memory, ch, [1, 5, 4, 7]);
    // Batching happened; with historySize 5 the stream keeps 5 messages holding offsets 3..17, more than 5 publications.
    expect(await kept(prefix, ch)).toEqual(historySize === 5 ? { messages: 5, oldest: 3 } : { messages: 7, oldest: 1 });
    const natsEpoch = (await writer.position(ch)).epoch;
    const memEpoch = (await memory.position(ch)).epoch;
    const queries: Array<(epoch: string) => HistoryQuery> = [
      () => ({}),
      () => ({ limit: 3 }),
      () => ({ reverse: true, limit: 4 }),
      ...range(19).map((i) => (epoch: string) => ({ since: { epoch, offset: i - 1 } })),
      ...range(19).map((i) => (epoch: string) => ({ since: { epoch, offset: i - 1 }, reverse: true, limit: 2 })),
    ];
    for (const q of queries) {
      const want = await outcome(memory, ch, q(memEpoch));
      for (const reader of [walker, consumer]) expect(await outcome(reader, ch, q(natsEpoch)), JSON.stringify(q('E'))).toEqual(want);
    }
    // The memory broker keeps exactly historySize: the comparison above is not vacuous.
    expect((await memory.history(ch)).publications).toHaveLength(Math.min(17, historySize));
    await memory.close();
  });
});

describe('NatsBroker history through a consumer', () => {
  // Batches let a subject keep many more publications than historySize: a long read decodes only the
  // messages holding the publications it serves (an older message here cannot even be decoded).
  it('decodes only the messages that hold the newest historySize publications', async () => {
    const o = { historySize: 20, historyTtlMs: 60_000 };
    const [consumer, walker] = await Promise.all([node('bhskip', { ...o, historyWalkLimit: 0 }), node('bhskip', { ...o, historyWalkLimit: 1_000 })]);
    const ch = freshChannel('bhskip');
    const h = headers();
    h.set('Hubbub-Epoch', 'bhskipEpoch1');
    h.set('Hubbub-Offset', '1');
    h.set('Hubbub-Time', String(Date.now()));
    h.set('Hubbub-Prev-Seq', '0');
    await jetstream(admin).publish(subjectSpace('bhskip').history(ch), 'not a publication', { headers: h });
    // Offset 2 alone, then 3..26 in one batch: three messages, all retained.
    await Promise.all(range(25).map((i) => consumer.publish(ch, i + 1)));
    expect(await kept('bhskip', ch)).toEqual({ messages: 3, oldest: 1 });
    for (const reader of [consumer, walker]) {
      const page = await reader.history(ch);
      expect(page.publications.map((p) => p.offset)).toEqual(range(20).map((i) => i + 6));
      expect((await reader.history(ch, { since: { epoch: page.epoch, offset: 6 } })).publications).toHaveLength(20);
      await expect(reader.history(ch, { since: { epoch: page.epoch, offset: 5 } })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    }
    expect(consumer.stats.decodeErrors + walker.stats.decodeErrors).toBe(0);
  });
});
