import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Publication, StreamPosition } from '../../contract/index.js';
import { isEmptyEpoch } from '../../contract/empty-epoch.js';
import { type Broker, UnrecoverablePositionError } from '../../server/broker/broker.js';
import { describeEmptyChannels } from './broker-conformance-empty.js';
import { describeEventNames } from './broker-conformance-events.js';
import { type BrokerFactoryOptions, type BrokerFixture, freshChannel } from './broker-fixture.js';

export { type BrokerFactoryOptions, type BrokerFixture, freshChannel } from './broker-fixture.js';

/** The behaviour every Broker must have; run with describeBroker('memory', factory). */
export function describeBroker(
  name: string,
  factory: (o: BrokerFactoryOptions) => Promise<BrokerFixture>,
  capabilities: { multiNode: boolean } = { multiNode: false },
): void {
  describe(`Broker conformance: ${name}`, () => {
    let fx: BrokerFixture;
    let received: Publication[];

    beforeEach(async () => {
      fx = await factory({ historySize: 5, historyTtlMs: 60_000 });
      received = [];
      fx.broker.setHandler({ onPublication: (p) => received.push(p) });
    });
    afterEach(async () => {
      await fx.close();
    });

    it('assigns offsets 1, 2, 3 in one epoch and returns them from publish', async () => {
      const ch = freshChannel();
      const a = await fx.broker.publish(ch, { n: 1 });
      const b = await fx.broker.publish(ch, { n: 2 });
      const c = await fx.broker.publish(ch, 'three', { tags: { kind: 'x' } });
      expect([a.offset, b.offset, c.offset]).toEqual([1, 2, 3]);
      expect(new Set([a.epoch, b.epoch, c.epoch]).size).toBe(1);
      expect(c).toMatchObject({ channel: ch, data: 'three', tags: { kind: 'x' } });
      expect(typeof c.time).toBe('number');
    });

    it('delivers publications of subscribed channels only, in order', async () => {
      const ch = freshChannel();
      const other = freshChannel();
      await fx.broker.subscribe(ch);
      for (let i = 1; i <= 20; i++) await fx.broker.publish(ch, i);
      await fx.broker.publish(other, 'not for us');
      await vi.waitFor(() => expect(received.length).toBe(20));
      expect(received.map((p) => p.data)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(received.every((p) => p.channel === ch)).toBe(true);
    });

    it('stops delivering after unsubscribe', async () => {
      const ch = freshChannel();
      await fx.broker.subscribe(ch);
      await fx.broker.publish(ch, 'a');
      await vi.waitFor(() => expect(received.length).toBe(1));
      await fx.broker.unsubscribe(ch);
      await fx.broker.publish(ch, 'b');
      const marker = freshChannel();
      await fx.broker.subscribe(marker);
      await fx.broker.publish(marker, 'marker');
      await vi.waitFor(() => expect(received.map((p) => p.data)).toContain('marker'));
      expect(received.map((p) => p.data)).toEqual(['a', 'marker']);
    });

    it('keeps a bounded history and serves it since a position', async () => {
      const ch = freshChannel();
      for (let i = 1; i <= 8; i++) await fx.broker.publish(ch, i);
      const all = await fx.broker.history(ch);
      expect(all.publications.map((p) => p.offset)).toEqual([4, 5, 6, 7, 8]);
      expect(all.offset).toBe(8);
      const since = await fx.broker.history(ch, { since: { epoch: all.epoch, offset: 5 } });
      expect(since.publications.map((p) => p.data)).toEqual([6, 7, 8]);
      const limited = await fx.broker.history(ch, { limit: 2 });
      expect(limited.publications.map((p) => p.offset)).toEqual([4, 5]);
      const reversed = await fx.broker.history(ch, { reverse: true, limit: 2 });
      expect(reversed.publications.map((p) => p.offset)).toEqual([8, 7]);
      const upToDate = await fx.broker.history(ch, { since: { epoch: all.epoch, offset: 8 } });
      expect(upToDate.publications).toEqual([]);
    });

    it('recovers from the last offset just before the oldest retained one', async () => {
      const ch = freshChannel();
      for (let i = 1; i <= 8; i++) await fx.broker.publish(ch, i);
      const { epoch } = await fx.broker.position(ch);
      const page = await fx.broker.history(ch, { since: { epoch, offset: 3 } });
      expect(page.publications.map((p) => p.offset)).toEqual([4, 5, 6, 7, 8]);
    });

    it('refuses a position older than the retained history', async () => {
      const ch = freshChannel();
      for (let i = 1; i <= 8; i++) await fx.broker.publish(ch, i);
      const { epoch } = await fx.broker.position(ch);
      await expect(fx.broker.history(ch, { since: { epoch, offset: 2 } })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    });

    it('refuses a position of another epoch or from the future', async () => {
      const ch = freshChannel();
      await fx.broker.publish(ch, 1);
      const { epoch } = await fx.broker.position(ch);
      await expect(fx.broker.history(ch, { since: { epoch: 'otherepoch', offset: 0 } })).rejects.toBeInstanceOf(
        UnrecoverablePositionError,
      );
      await expect(fx.broker.history(ch, { since: { epoch, offset: 99 } })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    });

    it('returns the first result for a repeated idempotency key', async () => {
      const ch = freshChannel();
      const a = await fx.broker.publish(ch, 'once', { idempotencyKey: 'k1' });
      const b = await fx.broker.publish(ch, 'once', { idempotencyKey: 'k1' });
      expect(b.offset).toBe(a.offset);
      expect(b.epoch).toBe(a.epoch);
      const page = await fx.broker.history(ch);
      expect(page.publications).toHaveLength(1);
    });

    // A broadcast sends one key to every channel (POST /api/broadcast): each channel must publish once.
    it('scopes an idempotency key to its channel', async () => {
      const [a, b] = [freshChannel(), freshChannel()];
      await fx.broker.publish(b, 'earlier');
      const first = await fx.broker.publish(a, 'to a', { idempotencyKey: 'shared' });
      const second = await fx.broker.publish(b, 'to b', { idempotencyKey: 'shared' });
      expect([first.channel, first.offset, second.channel, second.offset]).toEqual([a, 1, b, 2]);
      expect((await fx.broker.history(b)).publications.map((p) => p.data)).toEqual(['earlier', 'to b']);
      expect(await fx.broker.publish(b, 'to b', { idempotencyKey: 'shared' })).toEqual(second);
    });

    // Registered only for brokers that span nodes: a memory broker has no peer to agree with.
    if (!capabilities.multiNode) return;
    it('shares offsets and delivery with a peer on the same backbone', async () => {
      if (!fx.peer) throw new Error(`${name} declares multiNode but its fixture has no peer`);
      const peerReceived: Publication[] = [];
      fx.peer.setHandler({ onPublication: (p) => peerReceived.push(p) });
      const ch = freshChannel();
      await fx.peer.subscribe(ch);
      await fx.broker.publish(ch, 'from node a');
      const fromPeer = await fx.peer.publish(ch, 'from node b');
      expect(fromPeer.offset).toBe(2);
      await vi.waitFor(() => expect(peerReceived.map((p) => p.data)).toEqual(['from node a', 'from node b']));
      const page = await fx.peer.history(ch);
      expect(page.publications.map((p) => p.offset)).toEqual([1, 2]);
    });
  });

  describeQuietChannels(name, factory);
  describeEmptyChannels(name, factory);
  describeEventNames(name, factory, capabilities);
}

/** Time that passes with nothing published: the position outlives the publications (history meta). */
function describeQuietChannels(name: string, factory: (o: BrokerFactoryOptions) => Promise<BrokerFixture>): void {
  describe(`Broker conformance: ${name}, a channel quiet longer than the history TTL`, { timeout: 60_000 }, () => {
    const limits = { historySize: 5, historyTtlMs: 1_000, historyMetaTtlMs: 600_000 };
    const open: BrokerFixture[] = [];
    const start = async (o: Partial<BrokerFactoryOptions> = {}) => {
      const fx = await factory({ ...limits, ...o });
      open.push(fx);
      return fx;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((fx) => fx.close()));
    });

    // Regression: the epoch reset when the publications expired, so a client that missed nothing got recovered: false.
    it('keeps its epoch and latest offset: recovered from E:N, not from E:N-1, and offsets go on', async () => {
      const fx = await start();
      const other = fx.peer ?? fx.broker;
      const ch = freshChannel('quiet');
      for (let i = 1; i <= 3; i++) await fx.broker.publish(ch, i);
      const before = await fx.broker.position(ch);
      expect(before.offset).toBe(3);
      await fx.quiet(ch, 'history');

      expect(await fx.broker.position(ch)).toEqual(before);
      expect(await other.position(ch)).toEqual(before);
      const upToDate = await other.history(ch, { since: before });
      expect(upToDate).toEqual({ publications: [], ...before });
      expect(await other.history(ch)).toEqual({ publications: [], ...before });
      // Publication 3 expired: whoever last saw 2 missed it, and must be told so.
      await expect(other.history(ch, { since: { epoch: before.epoch, offset: 2 } })).rejects.toBeInstanceOf(
        UnrecoverablePositionError,
      );
      await expect(other.history(ch, { since: { epoch: before.epoch, offset: 4 } })).rejects.toBeInstanceOf(
        UnrecoverablePositionError,
      );

      const next = await other.publish(ch, 4);
      expect(next).toMatchObject({ epoch: before.epoch, offset: 4 });
      expect((await fx.broker.publish(ch, 5)).offset).toBe(5);
      const page = await fx.broker.history(ch, { since: before });
      expect(page.publications.map((p) => p.data)).toEqual([4, 5]);
    });

    it('delivers the next publication after a quiet spell in the same epoch, to old and new subscribers', async () => {
      const fx = await start();
      const early: Publication[] = [];
      const gaps: string[] = [];
      fx.broker.setHandler({ onPublication: (p) => early.push(p), onGap: (c) => gaps.push(c) });
      const ch = freshChannel('quiet');
      await fx.broker.subscribe(ch);
      await fx.broker.publish(ch, 1);
      const second = await fx.broker.publish(ch, 2);
      await vi.waitFor(() => expect(early).toHaveLength(2));
      await fx.quiet(ch, 'history');

      // A node that subscribes only now starts from the kept position, not from offset 1.
      const late: Publication[] = [];
      const lateNode = fx.peer ?? fx.broker;
      if (fx.peer) fx.peer.setHandler({ onPublication: (p) => late.push(p), onGap: (c) => gaps.push(c) });
      await lateNode.subscribe(ch);
      const third = await lateNode.publish(ch, 3);
      expect(third).toMatchObject({ epoch: second.epoch, offset: 3 });
      await vi.waitFor(() => expect(early.map((p) => `${p.epoch}:${p.offset}`)).toEqual([1, 2, 3].map((o) => `${second.epoch}:${o}`)));
      if (fx.peer) await vi.waitFor(() => expect(late.map((p) => p.offset)).toEqual([3]));
      expect(gaps).toEqual([]);
    });

    it('forgets the channel after the meta TTL: a new epoch, and the old position is refused', async () => {
      const fx = await start({ historyMetaTtlMs: 3_000 });
      const ch = freshChannel('quiet');
      await fx.broker.publish(ch, 1);
      const old = await fx.broker.publish(ch, 2);
      await fx.quiet(ch, 'meta');
      // Nothing is left of the channel: it reads as one nobody published to.
      const empty = await fx.broker.position(ch);
      expect([isEmptyEpoch(empty.epoch), empty.offset]).toEqual([true, 0]);
      await expect(fx.broker.history(ch, { since: old })).rejects.toBeInstanceOf(UnrecoverablePositionError);
      const next = await fx.broker.publish(ch, 3);
      expect(next.offset).toBe(1);
      expect(next.epoch).not.toBe(old.epoch);
      expect(isEmptyEpoch(next.epoch)).toBe(false);
    });

    it('keeps the positions of at most historyMetaMaxChannels channels; a forgotten one starts a new epoch, never a gap', async () => {
      const fx = await start({ historyMetaMaxChannels: 2 });
      const channels = [1, 2, 3, 4].map(() => freshChannel('bound'));
      const last: StreamPosition[] = [];
      for (const [i, ch] of channels.entries()) {
        for (let n = 0; n <= i; n++) await fx.broker.publish(ch, n);
        last.push(await fx.broker.position(ch));
      }
      for (const ch of channels) await fx.quiet(ch, 'history');
      let kept = 0;
      for (const [i, ch] of channels.entries()) {
        const now = await fx.broker.position(ch);
        if (now.epoch === last[i]!.epoch) {
          expect(now).toEqual(last[i]);
          kept += 1;
          continue;
        }
        expect(now.offset).toBe(0);
        await expect(fx.broker.history(ch, { since: last[i] })).rejects.toBeInstanceOf(UnrecoverablePositionError);
      }
      expect(kept).toBe(2);
    });
  });
}
