import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Publication, StreamPosition } from '../../contract/index.js';
import { type Broker, EMPTY_EPOCH, UnrecoverablePositionError } from '../../server/broker/broker.js';

export interface BrokerFixture {
  broker: Broker;
  /** A second broker on the same backbone (another node), when the implementation has one. */
  peer?: Broker;
  /**
   * Lets the channel stay quiet until the backbone no longer holds its publications ('history') or
   * its position either ('meta'). Memory: advances the injected clock past that TTL and sweeps.
   * NATS: JetStream expires by real time, so it waits until the messages are gone.
   */
  quiet(channel: string, until: 'history' | 'meta'): Promise<void>;
  /**
   * A count that grows with every write to the backbone and never shrinks on its own. Memory: the
   * channels with a stream or a kept position. NATS: the last sequences of the deployment's streams.
   */
  writes(): Promise<number>;
  close(): Promise<void>;
}

export interface BrokerFactoryOptions {
  historySize: number;
  historyTtlMs: number;
  /** How long a quiet channel's position (epoch + latest offset) outlives its publications. */
  historyMetaTtlMs?: number;
  /** At most this many channels' positions are kept; the oldest goes first. */
  historyMetaMaxChannels?: number;
}

let seq = 0;
/** Unique channel per test so runs against a shared backbone never see each other. */
export function freshChannel(prefix = 'conf'): string {
  seq += 1;
  return `${prefix}:c${process.pid}-${Date.now().toString(36)}-${seq}`;
}

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

    // Regression (issue #7): position() of a made-up channel created its epoch record (NATS) or stream
    // (memory), so a flood of anonymous polls filled the broker and pushed real channels' positions out.
    it('answers 0:0 for a channel nobody published to, and writes nothing', async () => {
      const ch = freshChannel('empty');
      const before = await fx.writes();
      expect(await fx.broker.position(ch)).toEqual({ epoch: EMPTY_EPOCH, offset: 0 });
      expect(await fx.broker.position(ch)).toEqual({ epoch: EMPTY_EPOCH, offset: 0 });
      expect(await fx.broker.history(ch)).toEqual({ publications: [], epoch: EMPTY_EPOCH, offset: 0 });
      expect(await fx.broker.history(ch, { since: { epoch: EMPTY_EPOCH, offset: 0 } })).toEqual({
        publications: [],
        epoch: EMPTY_EPOCH,
        offset: 0,
      });
      await expect(fx.broker.history(ch, { since: { epoch: 'otherepoch', offset: 3 } })).rejects.toMatchObject({
        current: { epoch: EMPTY_EPOCH, offset: 0 },
      });
      if (fx.peer) expect(await fx.peer.position(ch)).toEqual({ epoch: EMPTY_EPOCH, offset: 0 });
      expect(await fx.writes()).toBe(before);
    });

    it('writes nothing for many channels that are subscribed, read and unsubscribed but never published to', async () => {
      const channels = Array.from({ length: 200 }, () => freshChannel('anon'));
      const before = await fx.writes();
      for (const ch of channels) {
        await fx.broker.subscribe(ch);
        await fx.broker.position(ch);
        await fx.broker.history(ch, { since: { epoch: EMPTY_EPOCH, offset: 0 } });
        await fx.broker.unsubscribe(ch);
      }
      expect(await fx.writes()).toBe(before);
    });

    it('starts a real epoch at offset 1 on the first publish; 0:0 is then unrecoverable, never a silent gap', async () => {
      const ch = freshChannel('empty');
      expect(await fx.broker.position(ch)).toEqual({ epoch: EMPTY_EPOCH, offset: 0 });
      const first = await fx.broker.publish(ch, 1);
      expect(first.offset).toBe(1);
      expect(first.epoch).not.toBe(EMPTY_EPOCH);
      expect(first.epoch.length).toBeGreaterThan(1);
      expect(await fx.broker.position(ch)).toEqual({ epoch: first.epoch, offset: 1 });
      const err = await fx.broker.history(ch, { since: { epoch: EMPTY_EPOCH, offset: 0 } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnrecoverablePositionError);
      expect((err as UnrecoverablePositionError).current).toEqual({ epoch: first.epoch, offset: 1 });
      expect((await fx.broker.publish(ch, 2)).epoch).toBe(first.epoch);
      // Another channel's first generation gets its own epoch.
      expect((await fx.broker.publish(freshChannel('empty'), 1)).epoch).not.toBe(first.epoch);
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
      expect(await fx.broker.position(ch)).toEqual({ epoch: EMPTY_EPOCH, offset: 0 });
      await expect(fx.broker.history(ch, { since: old })).rejects.toBeInstanceOf(UnrecoverablePositionError);
      const next = await fx.broker.publish(ch, 3);
      expect(next.offset).toBe(1);
      expect([old.epoch, EMPTY_EPOCH]).not.toContain(next.epoch);
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
