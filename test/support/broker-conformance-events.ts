import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EVENT_NAME_MAX_LENGTH, type JsonData, type Publication } from '../../contract/index.js';
import { type BrokerFactoryOptions, type BrokerFixture, freshChannel } from './broker-fixture.js';

// Event names (issue #10) in the broker conformance suite: a publication's event travels with it
// live, from history, through recovery and (NATS) inside batches and to other nodes; a publication
// without one has no `event` key at all, so its frames stay those of a server without events.

const EVENT_CHARS = 'abcXYZ019_.:-';
/** Names from the contract's whole alphabet and length range. */
export const eventNameArb = fc
  .array(fc.constantFrom(...EVENT_CHARS), { minLength: 1, maxLength: EVENT_NAME_MAX_LENGTH })
  .map((cs) => cs.join(''));

const json = (v: unknown) => JSON.stringify(v);
const entriesOf = (pubs: Publication[]) => pubs.map((p) => ({ offset: p.offset, event: p.event, data: p.data }));

export function describeEventNames(
  name: string,
  factory: (o: BrokerFactoryOptions) => Promise<BrokerFixture>,
  capabilities: { multiNode: boolean },
): void {
  describe(`Broker conformance: ${name}, event names`, () => {
    let fx: BrokerFixture;
    let received: Publication[];

    beforeEach(async () => {
      fx = await factory({ historySize: 100, historyTtlMs: 60_000 });
      received = [];
      fx.broker.setHandler({ onPublication: (p) => received.push(p) });
    });
    afterEach(async () => {
      await fx.close();
    });

    it('delivers, stores and recovers each publication with its own event, and none without one', async () => {
      const ch = freshChannel('ev');
      await fx.broker.subscribe(ch);
      const created = await fx.broker.publish(ch, { id: 1 }, { event: 'create', tags: { k: 'v' } });
      const plain = await fx.broker.publish(ch, { id: 1 });
      const updated = await fx.broker.publish(ch, { id: 1 }, { event: 'tweet.update' });
      expect([created.event, plain.event, updated.event]).toEqual(['create', undefined, 'tweet.update']);
      expect('event' in plain).toBe(false);
      const expected = [
        { offset: 1, event: 'create', data: { id: 1 } },
        { offset: 2, event: undefined, data: { id: 1 } },
        { offset: 3, event: 'tweet.update', data: { id: 1 } },
      ];
      await vi.waitFor(() => expect(entriesOf(received)).toEqual(expected));
      const page = await fx.broker.history(ch);
      expect(entriesOf(page.publications)).toEqual(expected);
      // Byte-identical to a publication of a server without events: no `event` key, not even undefined.
      expect(json(page.publications[1])).toBe(json({ channel: ch, offset: 2, epoch: page.epoch, data: { id: 1 }, time: page.publications[1]!.time }));
      expect(page.publications[0]!.tags).toEqual({ k: 'v' });
      // Recovery after a disconnect is a history read since the last position seen.
      const since = await fx.broker.history(ch, { since: { epoch: page.epoch, offset: 1 } });
      expect(entriesOf(since.publications)).toEqual(expected.slice(1));
    });

    it('keeps the event of the first publish for a repeated idempotency key', async () => {
      const ch = freshChannel('ev');
      const a = await fx.broker.publish(ch, 'once', { idempotencyKey: 'k', event: 'create' });
      const b = await fx.broker.publish(ch, 'once', { idempotencyKey: 'k', event: 'create' });
      expect([a.event, b.event, b.offset]).toEqual(['create', 'create', a.offset]);
      expect((await fx.broker.history(ch)).publications.map((p) => p.event)).toEqual(['create']);
    });

    it('gives each of many concurrent publishes on one channel its own event (NATS stores them in batches)', async () => {
      const ch = freshChannel('ev');
      await fx.broker.subscribe(ch);
      const events = Array.from({ length: 40 }, (_, i) => (i % 3 === 2 ? undefined : `e${i}`));
      // Issued in one synchronous loop: the NATS appender batches those queued behind the first.
      const pubs = await Promise.all(events.map((event, i) => fx.broker.publish(ch, i, { event })));
      for (const [i, p] of pubs.entries()) expect([p.data, p.event]).toEqual([i, events[i]]);
      const byOffset = (ps: Publication[]) => [...ps].sort((x, y) => x.offset - y.offset).map((p) => [p.data, p.event]);
      const expected = byOffset(pubs);
      await vi.waitFor(() => expect(byOffset(received)).toEqual(expected));
      expect(byOffset((await fx.broker.history(ch)).publications)).toEqual(expected);
      for (const p of (await fx.broker.history(ch)).publications) expect('event' in p).toBe(p.event !== undefined);
    });

    it('round-trips random event names and data through history (property)', async () => {
      const data = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonData>;
      const entry = fc.record({ event: fc.option(eventNameArb, { nil: undefined }), data });
      await fc.assert(
        fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 6 }), async (entries) => {
          const ch = freshChannel('evp');
          for (const e of entries) await fx.broker.publish(ch, e.data, e.event === undefined ? {} : { event: e.event });
          const page = await fx.broker.history(ch);
          // Compared as JSON text: what every transport sends (-0 and 0 are the same there).
          expect(page.publications.map((p) => json({ event: p.event, data: p.data }))).toEqual(entries.map((e) => json(e)));
          expect(page.publications.map((p) => 'event' in p)).toEqual(entries.map((e) => e.event !== undefined));
        }),
        { numRuns: 25 },
      );
    });

    if (!capabilities.multiNode) return;
    it('delivers the event to a peer node and stores it for the peer', async () => {
      if (!fx.peer) throw new Error(`${name} declares multiNode but its fixture has no peer`);
      const peerReceived: Publication[] = [];
      fx.peer.setHandler({ onPublication: (p) => peerReceived.push(p) });
      const ch = freshChannel('ev');
      await fx.peer.subscribe(ch);
      await fx.broker.publish(ch, 'a', { event: 'create' });
      await fx.broker.publish(ch, 'b');
      await vi.waitFor(() => expect(entriesOf(peerReceived)).toEqual([
        { offset: 1, event: 'create', data: 'a' },
        { offset: 2, event: undefined, data: 'b' },
      ]));
      expect((await fx.peer.history(ch)).publications.map((p) => p.event)).toEqual(['create', undefined]);
    });
  });
}
