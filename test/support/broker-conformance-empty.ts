import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StreamPosition } from '../../contract/index.js';
import { emptyEpoch, emptyEpochTime, isEmptyEpoch } from '../../contract/empty-epoch.js';
import { UnrecoverablePositionError } from '../../server/broker/broker.js';
import { type BrokerFactoryOptions, type BrokerFixture, freshChannel } from './broker-fixture.js';

// Issue #7: a channel nobody published to is at an empty position, `0<T>:0`, T the time it was seen
// empty; reading it writes nothing. Recovering from it once the channel has a generation is decided
// by time (broker.ts recoverableFromEmpty), on any node: offset 1 still retained, stored no earlier
// than T (less the clock-skew allowance), and T within what the broker still remembers (meta TTL).

const offsets = (page: { publications: Array<{ offset: number }> }) => page.publications.map((p) => p.offset);

async function refused(promise: Promise<unknown>): Promise<StreamPosition> {
  const err = await promise.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnrecoverablePositionError);
  return (err as UnrecoverablePositionError).current;
}

function expectEmpty(p: StreamPosition): void {
  expect({ empty: isEmptyEpoch(p.epoch), length: p.epoch.length, offset: p.offset }).toEqual({ empty: true, length: 10, offset: 0 });
}

export function describeEmptyChannels(name: string, factory: (o: BrokerFactoryOptions) => Promise<BrokerFixture>): void {
  describe(`Broker conformance: ${name}, a channel nobody published to`, () => {
    let fx: BrokerFixture;
    beforeEach(async () => {
      fx = await factory({ historySize: 5, historyTtlMs: 60_000 });
    });
    afterEach(async () => {
      await fx.close();
    });

    // Regression: position() of a made-up channel created its epoch record (NATS) or stream (memory),
    // so a flood of anonymous polls filled the broker and pushed real channels' positions out.
    it('answers an empty position timed when it was read, and writes nothing', async () => {
      const ch = freshChannel('empty');
      const before = await fx.writes();
      const seen = await fx.broker.position(ch);
      expectEmpty(seen);
      expect(emptyEpochTime(seen.epoch)).toBeGreaterThan(0);
      expectEmpty(await fx.broker.position(ch));
      const page = await fx.broker.history(ch);
      expect(page.publications).toEqual([]);
      expectEmpty(page);
      const since = await fx.broker.history(ch, { since: seen });
      expect(since.publications).toEqual([]);
      expectEmpty(since);
      expectEmpty(await refused(fx.broker.history(ch, { since: { epoch: 'otherepoch', offset: 3 } })));
      if (fx.peer) expectEmpty(await fx.peer.position(ch));
      expect(await fx.writes()).toBe(before);
    });

    it('writes nothing for many channels that are subscribed, read and unsubscribed but never published to', async () => {
      const channels = Array.from({ length: 200 }, () => freshChannel('anon'));
      const before = await fx.writes();
      for (const ch of channels) {
        await fx.broker.subscribe(ch);
        await fx.broker.history(ch, { since: await fx.broker.position(ch) });
        await fx.broker.unsubscribe(ch);
      }
      expect(await fx.writes()).toBe(before);
    });

    // Regression: recovering from the empty position once the first publication was stored was refused
    // on every node, so a long-poll whose next request reached another node lost that publication.
    it('recovers an empty position seen before the first publish from offset 1, on any node', async () => {
      const ch = freshChannel('empty');
      const seen = await fx.broker.position(ch);
      const first = await fx.broker.publish(ch, 1);
      expect(first.offset).toBe(1);
      expect(isEmptyEpoch(first.epoch)).toBe(false);
      expect(await fx.broker.position(ch)).toEqual({ epoch: first.epoch, offset: 1 });
      await fx.broker.publish(ch, 2);
      for (const node of fx.peer ? [fx.broker, fx.peer] : [fx.broker]) {
        const page = await node.history(ch, { since: seen });
        expect({ offsets: offsets(page), epoch: page.epoch, offset: page.offset }).toEqual({ offsets: [1, 2], epoch: first.epoch, offset: 2 });
      }
      expect((await fx.broker.publish(ch, 3)).epoch).toBe(first.epoch);
      // Another channel's first generation gets its own epoch.
      expect((await fx.broker.publish(freshChannel('empty'), 1)).epoch).not.toBe(first.epoch);
    });

    it('refuses an empty position seen after offset 1 was stored (beyond the skew allowance), or one without a time', async () => {
      const ch = freshChannel('empty');
      const first = await fx.broker.publish(ch, 1);
      const current = { epoch: first.epoch, offset: 1 };
      const later = { epoch: emptyEpoch(first.time + 60_000), offset: 0 };
      expect(await refused(fx.broker.history(ch, { since: later }))).toEqual(current);
      expect(await refused(fx.broker.history(ch, { since: { epoch: '0', offset: 0 } }))).toEqual(current);
      // An empty epoch at an offset other than 0 names nothing.
      const seen = { epoch: emptyEpoch(first.time - 10), offset: 1 };
      expect(await refused(fx.broker.history(ch, { since: seen }))).toEqual(current);
    });
  });

  describe(`Broker conformance: ${name}, an empty position that is too old`, { timeout: 60_000 }, () => {
    const open: BrokerFixture[] = [];
    const start = async (o: Partial<BrokerFactoryOptions> = {}) => {
      const fx = await factory({ historySize: 5, historyTtlMs: 1_000, historyMetaTtlMs: 600_000, ...o });
      open.push(fx);
      return fx;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((fx) => fx.close()));
    });

    it('refuses it once offset 1 of the generation that followed has expired', async () => {
      const fx = await start();
      const ch = freshChannel('stale');
      const seen = await fx.broker.position(ch);
      const first = await fx.broker.publish(ch, 1);
      await fx.quiet(ch, 'history');
      const second = await fx.broker.publish(ch, 2);
      expect(second).toMatchObject({ epoch: first.epoch, offset: 2 });
      expect(await refused(fx.broker.history(ch, { since: seen }))).toEqual({ epoch: first.epoch, offset: 2 });
    });

    // A generation that started after T and was then forgotten entirely would be unseen: a position
    // older than the meta TTL is refused, on a channel that has a generation now or is still empty.
    it('refuses it once it is older than the meta TTL, even while the channel is still empty', async () => {
      const fx = await start({ historyMetaTtlMs: 3_000 });
      const [ch, still, other] = [freshChannel('stale'), freshChannel('stale'), freshChannel('stale')];
      const seen = await fx.broker.position(ch);
      const seenStill = await fx.broker.position(still);
      await fx.broker.publish(other, 'time passes');
      await fx.quiet(other, 'meta');
      const first = await fx.broker.publish(ch, 1);
      expect(await refused(fx.broker.history(ch, { since: seen }))).toEqual({ epoch: first.epoch, offset: 1 });
      const current = await refused(fx.broker.history(still, { since: seenStill }));
      expectEmpty(current);
      expect(emptyEpochTime(current.epoch)).toBeGreaterThan(emptyEpochTime(seenStill.epoch)!);
      // The fresh position it is told is recoverable.
      expect(offsets(await fx.broker.history(still, { since: current }))).toEqual([]);
    });
  });
}
