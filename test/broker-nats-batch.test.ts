import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { describe, expect, it, vi } from 'vitest';
import type { JsonData, Publication } from '../contract/index.js';
import type { Broker } from '../server/broker/broker.js';
import { encodeIdempotencyRecord, idempotencyDigest } from '../server/broker/nats/codec.js';
import { BATCH_MAX } from '../server/broker/nats/offset-appender.js';
import { subjectSpace } from '../server/broker/nats/subject.js';
import { freshChannel } from './support/broker-conformance.js';
import { UnrecoverablePositionError } from '../server/broker/broker.js';
import { admin, collector, node, range, storedOn, useNatsServer } from './support/nats-nodes.js';

// Batching in the NATS publish path: publishes queued behind a channel's append in flight are
// stored as one message. Publishes issued in one synchronous loop queue deterministically: the
// first goes out alone, the rest wait for it and leave together (up to BATCH_MAX and the byte budget).

useNatsServer();

const limits = { historySize: 1_000, historyTtlMs: 60_000 };

interface Stored {
  seq: number;
  /** Publications the message holds (Hubbub-Count, absent: 1). */
  count: number;
  last: number;
  headers: string[];
  body: string;
}

/** The messages stored on a channel's subject, oldest first, by following the Prev-Seq links back from the last. */
async function storedMessages(prefix: string, channel: string): Promise<Stored[]> {
  const jsm = await jetstreamManager(admin);
  const stream = `${prefix}_channels`;
  const out: Stored[] = [];
  let m = await jsm.streams.getMessage(stream, { last_by_subj: subjectSpace(prefix).history(channel) }).catch(() => null);
  while (m) {
    const h = m.header;
    out.push({
      seq: m.seq,
      count: Number(h.get('Hubbub-Count') || '1'),
      last: Number(h.get('Hubbub-Offset')),
      headers: h.keys().filter((k) => k.startsWith('Hubbub-')),
      body: new TextDecoder().decode(m.data),
    });
    const prev = Number(h.get('Hubbub-Prev-Seq'));
    m = prev > 0 ? await jsm.streams.getMessage(stream, { seq: prev }).catch(() => null) : null;
  }
  return out.reverse();
}

/** One message alone, then `k` queued behind it: stored as [1, k] (k ≤ BATCH_MAX). */
function burst(b: Broker, ch: string, data: JsonData[]): Promise<Publication[]> {
  return Promise.all(data.map((d) => b.publish(ch, d)));
}

describe('NatsBroker batching', () => {
  it('stores the publishes queued behind an append as one message, each promise with its own offset and data', async () => {
    const [a, c] = await Promise.all([node('batch', limits), node('batch', limits)]);
    const seen = collector(c);
    const ch = freshChannel('batch');
    await c.subscribe(ch);
    const pubs = await Promise.all([
      a.publish(ch, 'alone'),
      ...range(8).map((i) => a.publish(ch, { i }, { tags: { n: String(i) }, event: i % 2 ? `ev${i}` : undefined })),
      a.publish(ch, 'last', { publisher: { user: 'u', client: 'c1' } }),
    ]);
    expect(pubs.map((p) => p.offset)).toEqual(range(10));
    expect(pubs.map((p) => p.data)).toEqual(['alone', ...range(8).map((i) => ({ i })), 'last']);
    expect(pubs[3]!.tags).toEqual({ n: '3' });
    expect(pubs.map((p) => p.event)).toEqual([undefined, ...range(8).map((i) => (i % 2 ? `ev${i}` : undefined)), undefined]);
    expect(pubs[9]!.publisher).toEqual({ user: 'u', client: 'c1' });
    const stored = await storedMessages('batch', ch);
    expect(stored.map((m) => [m.count, m.last])).toEqual([
      [1, 1],
      [9, 10],
    ]);
    // A lone publication is the original message: no count header, one JSON object as body.
    expect(stored[0]!.headers.sort()).toEqual(['Hubbub-Epoch', 'Hubbub-First', 'Hubbub-Offset', 'Hubbub-Prev-Seq', 'Hubbub-Time']);
    expect(JSON.parse(stored[0]!.body)).toEqual({ d: 'alone' });
    // Each entry of a batch holds its own event name, or none.
    expect(JSON.parse(stored[1]!.body).map((e: { e?: string }) => e.e)).toEqual([...range(8).map((i) => (i % 2 ? `ev${i}` : undefined)), undefined]);
    // Another node gets the batch live, one publication at a time, equal to what the publisher was told.
    await vi.waitFor(() => expect(seen.pubs).toHaveLength(10));
    expect(seen.pubs).toEqual(pubs);
    expect(seen.gaps).toEqual([]);
    expect((await c.history(ch)).publications).toEqual(pubs);
  });

  it('gives concurrent publishes from two nodes offsets 1..N in each node\'s call order, and stores fewer messages than publications', async () => {
    const [a, b, c] = await Promise.all([node('burst', limits), node('burst', limits), node('burst', limits)]);
    const seen = collector(c);
    const ch = freshChannel('burst');
    await c.subscribe(ch);
    const fromA = range(300).map((i) => a.publish(ch, `a${i}`));
    const fromB = range(300).map((i) => b.publish(ch, `b${i}`));
    const [pa, pb] = await Promise.all([Promise.all(fromA), Promise.all(fromB)]);
    const all = [...pa, ...pb];
    expect(all.map((p) => p.offset).sort((x, y) => x - y)).toEqual(range(600));
    expect(new Set(all.map((p) => p.epoch)).size).toBe(1);
    // Each node's publications keep their call order.
    for (const mine of [pa, pb]) expect(mine.map((p) => p.offset)).toEqual([...mine.map((p) => p.offset)].sort((x, y) => x - y));
    const byOffset = new Map(all.map((p) => [p.offset, p]));
    const page = await c.history(ch);
    expect(page.publications.map((p) => p.offset)).toEqual(range(600));
    for (const p of page.publications) expect(p).toEqual(byOffset.get(p.offset));
    await vi.waitFor(() => expect(seen.pubs).toHaveLength(600));
    for (const p of seen.pubs) expect(p).toEqual(byOffset.get(p.offset));
    expect(seen.pubs.map((p) => p.offset)).toEqual(range(600));
    expect(seen.gaps).toEqual([]);
    const stored = await storedMessages('burst', ch);
    expect(stored.reduce((n, m) => n + m.count, 0)).toBe(600);
    expect(stored.length).toBeLessThan(600 / 10);
    expect(Math.max(...stored.map((m) => m.count))).toBeLessThanOrEqual(BATCH_MAX);
  });

  it('keeps call order around idempotent publishes, which are stored one per message', async () => {
    const a = await node('order', limits);
    const ch = freshChannel('order');
    const pubs = await Promise.all([
      a.publish(ch, 1),
      a.publish(ch, 2),
      a.publish(ch, 3),
      a.publish(ch, 'k', { idempotencyKey: 'once' }),
      a.publish(ch, 5),
      a.publish(ch, 6),
    ]);
    expect(pubs.map((p) => p.offset)).toEqual(range(6));
    expect((await storedMessages('order', ch)).map((m) => [m.count, m.last])).toEqual([
      [1, 1],
      [2, 3],
      [1, 4],
      [2, 6],
    ]);
    expect((await a.history(ch)).publications.map((p) => p.data)).toEqual([1, 2, 3, 'k', 5, 6]);
    expect(await a.publish(ch, 'k', { idempotencyKey: 'once' })).toMatchObject({ offset: 4, data: 'k' });
  });

  it('splits a burst at BATCH_MAX publications and under half the connection\'s max_payload', async () => {
    const a = await node('split', limits);
    const ch = freshChannel('split');
    const rest = BATCH_MAX >> 1;
    await burst(a, ch, range(1 + 2 * BATCH_MAX + rest));
    expect((await storedMessages('split', ch)).map((m) => m.count)).toEqual([1, BATCH_MAX, BATCH_MAX, rest]);
    const big = freshChannel('split');
    const chunk = 'x'.repeat(200_000);
    const pubs = await burst(a, big, range(10).map((i) => `${i}:${chunk}`));
    expect(pubs.map((p) => p.offset)).toEqual(range(10));
    const stored = await storedMessages('split', big);
    // 1 MB max_payload (nats-server's default): two of these fit in the 512 KB budget, three do not.
    expect(stored.map((m) => m.count)).toEqual([1, 2, 2, 2, 2, 1]);
    expect((await a.history(big)).publications.map((p) => (p.data as string).split(':')[0])).toEqual(range(10).map(String));
  });

  it('retries a batch refused because another node took the offset, whole and in order', async () => {
    const [a, b] = await Promise.all([node('refused', limits), node('refused', limits)]);
    const seen = collector(b);
    const ch = freshChannel('refused');
    await b.subscribe(ch);
    // Two publishes in a row: a trusts its cached head and will append without reading it.
    await a.publish(ch, 1);
    await a.publish(ch, 2);
    // Hold a's lane on a keyed publish whose key another publish holds (pending), so plain publishes queue behind it.
    const digest = idempotencyDigest(ch, 'held');
    const idemSubject = subjectSpace('refused').idempotency(digest);
    const js = jetstream(admin);
    const pending = await js.publish(idemSubject, encodeIdempotencyRecord({ state: 'pending' }));
    const held = a.publish(ch, 'never stored', { idempotencyKey: 'held' });
    const queued = range(5).map((i) => a.publish(ch, `q${i}`));
    // b takes offset 3: a's cached head is stale now, so its batch will be refused once.
    const fromB = await b.publish(ch, 'b');
    expect(fromB.offset).toBe(3);
    const conflicts = a.stats.publishConflicts;
    // The key's owner finishes: its publication is b's, so a's keyed publish stores nothing.
    await js.publish(
      idemSubject,
      encodeIdempotencyRecord({ state: 'done', epoch: fromB.epoch, offset: 3, pubTime: fromB.time, pubSeq: (await storedMessages('refused', ch)).at(-1)!.seq }),
      { expect: { lastSubjectSequence: pending.seq } },
    );
    expect(await held).toMatchObject({ offset: 3, data: 'b' });
    const pubs = await Promise.all(queued);
    expect(pubs.map((p) => [p.offset, p.data])).toEqual(range(5).map((i) => [3 + i, `q${i}`]));
    expect(a.stats.publishConflicts).toBe(conflicts + 1);
    expect((await storedMessages('refused', ch)).map((m) => [m.count, m.last])).toEqual([
      [1, 1],
      [1, 2],
      [1, 3],
      [5, 8],
    ]);
    await vi.waitFor(() => expect(seen.pubs.map((p) => p.data)).toEqual([1, 2, 'b', 'q1', 'q2', 'q3', 'q4', 'q5']));
    expect(seen.gaps).toEqual([]);
  });

  it('puts live batches back in offset order, drops repeated ones and reports a hole between them', async () => {
    const [a, c] = await Promise.all([node('live', limits), node('live', { ...limits, reorderWindowMs: 200 })]);
    const seen = collector(c);
    const ch = freshChannel('live');
    await c.subscribe(ch);
    const { epoch } = await a.publish(ch, 1);
    await vi.waitFor(() => expect(seen.pubs).toHaveLength(1));
    // What the stream's republish would carry for a batch (docs/nats-design.md), sent straight to the live subject.
    const live = (first: number, count: number) => {
      const h = headers();
      h.set('Hubbub-Epoch', epoch);
      h.set('Hubbub-Offset', String(first + count - 1));
      h.set('Hubbub-Time', String(Date.now()));
      h.set('Hubbub-Prev-Seq', '0');
      h.set('Hubbub-Count', String(count));
      admin.publish(subjectSpace('live').live(ch), JSON.stringify(range(count).map((i) => ({ d: first + i - 1 }))), { headers: h });
    };
    live(4, 2);
    live(2, 2);
    await vi.waitFor(() => expect(seen.pubs.map((p) => p.data)).toEqual(range(5)));
    live(3, 3);
    live(8, 2);
    await vi.waitFor(() => expect(seen.gaps).toEqual([ch]));
    expect(seen.pubs.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5, 8, 9]);
    expect(c.stats.duplicatesDropped).toBe(3);
    expect(c.stats.decodeErrors).toBe(0);
  });

  it('seals a quiet channel whose last message is a batch at the batch\'s last offset, and goes on after it', async () => {
    const quiet = { historySize: 10, historyTtlMs: 1_000, claimWindowMs: 1_000, sealGraceMs: 1_500 };
    const [a, b] = await Promise.all([node('bseal', quiet), node('bseal', quiet)]);
    const ch = freshChannel('bseal');
    const first = await burst(a, ch, range(5));
    expect((await storedMessages('bseal', ch)).map((m) => [m.count, m.last])).toEqual([
      [1, 1],
      [4, 5],
    ]);
    const { epoch } = first[0]!;
    await vi.waitFor(() => expect(a.stats.seals).toBe(1), { timeout: 20_000, interval: 50 });
    await vi.waitFor(async () => expect(await storedOn(subjectSpace('bseal').history(ch))).toBeNull(), { timeout: 20_000, interval: 100 });
    expect(await b.position(ch)).toEqual({ epoch, offset: 5 });
    expect((await b.history(ch, { since: { epoch, offset: 5 } })).publications).toEqual([]);
    await expect(b.history(ch, { since: { epoch, offset: 4 } })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    const next = await burst(b, ch, range(3));
    expect(next.map((p) => [p.epoch, p.offset])).toEqual([6, 7, 8].map((o) => [epoch, o]));
  });
});
