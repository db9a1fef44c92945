import { describe, expect, it, vi } from 'vitest';
import type { StreamPosition } from '../contract/index.js';
import { Hub } from '../server/hub/hub.js';
import { LossyBroker, offsets, recorder, setup } from './support/lossy-hub.js';

describe('Hub', () => {
  it('subscribes at the broker on the first local subscriber and unsubscribes after the last', async () => {
    const { broker, hub, make } = setup();
    const a = make();
    const b = make();
    await hub.subscribe('c', a);
    await hub.subscribe('c', b);
    expect(broker.subscribeCalls).toEqual(['c']);
    hub.unsubscribe('c', a);
    expect(broker.unsubscribeCalls).toEqual([]);
    hub.unsubscribe('c', b);
    await hub.stopLingering();
    expect(broker.unsubscribeCalls).toEqual(['c']);
    expect(hub.channelCount).toBe(0);
  });

  it('encodes each publication once per codec, whatever the number of subscribers', async () => {
    const hub = new Hub(new LossyBroker());
    const one = recorder(hub, 'one');
    const two = recorder(hub, 'two');
    const subs = [one.make(), one.make(), one.make(), two.make(), two.make()];
    for (const s of subs) await hub.subscribe('c', s);
    await hub.publish('c', 'x');
    await hub.publish('c', 'y');
    expect(one.encoded).toEqual([1, 2]);
    expect(two.encoded).toEqual([1, 2]);
    expect(subs.every((s) => s.frames.join() === 'frame-1,frame-2')).toBe(true);
  });

  it('fills a gap in live delivery from history, in order', async () => {
    const { broker, hub, make } = setup();
    const sub = make();
    await hub.subscribe('c', sub);
    await hub.publish('c', 1);
    broker.dropLive = true;
    await hub.publish('c', 2);
    await hub.publish('c', 3);
    broker.dropLive = false;
    await hub.publish('c', 4);
    await vi.waitFor(() => expect(offsets(sub.pubs)).toEqual([1, 2, 3, 4]));
    await hub.publish('c', 5);
    expect(offsets(sub.pubs)).toEqual([1, 2, 3, 4, 5]);
    expect(sub.lost).toEqual([]);
  });

  /** A subscriber of `c` that missed publication 1 live (it is in history). */
  async function lostFirst() {
    const { broker, hub, make } = setup();
    const sub = make();
    await hub.subscribe('c', sub);
    broker.dropLive = true;
    await hub.publish('c', 1);
    broker.dropLive = false;
    return { broker, hub, sub };
  }

  it('recovers when the broker reports a possible gap', async () => {
    const { broker, sub } = await lostFirst();
    broker.hubHandler.onGap?.('c');
    await vi.waitFor(() => expect(offsets(sub.pubs)).toEqual([1]));
  });

  /** Loses publication 1 live, then makes the next `reads` history reads fail as unavailable. */
  async function gapWhileUnavailable(reads: number) {
    const { broker, hub, sub } = await lostFirst();
    broker.unavailableReads = reads;
    await hub.publish('c', 2);
    return { broker, sub };
  }

  it('retries a gap read while the broker is briefly unavailable, then delivers in order', async () => {
    const { broker, sub } = await gapWhileUnavailable(3);
    await vi.waitFor(() => expect(offsets(sub.pubs)).toEqual([1, 2]));
    expect(sub.lost).toEqual([]);
    expect(broker.unavailableReads).toBe(0);
  });

  it('drops subscribers when the broker stays unavailable through every retry', async () => {
    const { broker, sub } = await gapWhileUnavailable(100);
    await vi.waitFor(() => expect(sub.lost).toEqual(['c']));
    expect(broker.unavailableReads).toBe(100 - 5);
  });

  it('drops subscribers with onUnrecoverable when the gap is no longer in history', async () => {
    const { broker, hub, make } = setup(2);
    const sub = make();
    await hub.subscribe('c', sub);
    await hub.publish('c', 1);
    broker.dropLive = true;
    for (let i = 2; i <= 5; i++) await hub.publish('c', i);
    broker.dropLive = false;
    await hub.publish('c', 6);
    await vi.waitFor(() => expect(sub.lost).toEqual(['c']));
    expect(offsets(sub.pubs)).toEqual([1]);
  });

  it('ignores a duplicate live delivery', async () => {
    const { broker, hub, make } = setup();
    const sub = make();
    await hub.subscribe('c', sub);
    const p = await hub.publish('c', 1);
    broker.hubHandler.onPublication(p);
    expect(offsets(sub.pubs)).toEqual([1]);
  });

  it('merges a recovery backlog with live publications that arrive during the history read', async () => {
    const { broker, hub, make } = setup();
    const watcher = make();
    await hub.subscribe('c', watcher);
    for (let i = 1; i <= 3; i++) await hub.publish('c', i);
    const since: StreamPosition = { epoch: watcher.pubs[0]!.epoch, offset: 1 };
    let open!: () => void;
    broker.historyGate = new Promise<void>((r) => (open = r));
    const late = make();
    const subscribing = hub.subscribe('c', late, since);
    await vi.waitFor(() => expect(hub.subscriptionCount).toBe(2));
    await hub.publish('c', 4);
    await hub.publish('c', 5);
    open();
    const result = await subscribing;
    broker.historyGate = undefined;
    await hub.publish('c', 6);
    expect(result).toMatchObject({ offset: 1, recovered: true });
    expect(late.results).toHaveLength(1);
    expect(offsets(late.pubs)).toEqual([2, 3, 4, 5, 6]);
  });

  it('tells live subscribers when the epoch changes under them', async () => {
    const { broker, hub, make } = setup();
    const sub = make();
    await hub.subscribe('c', sub);
    await hub.publish('c', 1);
    broker.hubHandler.onPublication({ channel: 'c', epoch: 'reset', offset: 1, data: 'new life', time: 0 });
    expect(sub.lost).toEqual(['c']);
  });

  it('does not deliver to a subscriber that left while its recovery was read', async () => {
    const { broker, hub, make } = setup();
    const sub = make();
    await hub.publish('c', 1);
    const { epoch } = await broker.position('c');
    let open!: () => void;
    broker.historyGate = new Promise<void>((r) => (open = r));
    const subscribing = hub.subscribe('c', sub, { epoch, offset: 0 });
    await vi.waitFor(() => expect(hub.subscriptionCount).toBe(1));
    hub.unsubscribe('c', sub);
    open();
    await expect(subscribing).rejects.toThrow(/unsubscribed/);
    expect(sub.results).toEqual([]);
    expect(sub.pubs).toEqual([]);
  });
});

describe('Hub linger', () => {
  it('keeps following a channel after its last subscriber, so a returning long-poll costs no broker call', async () => {
    const broker = new LossyBroker();
    const hub = new Hub(broker, { lingerMs: 60_000 });
    const { make } = recorder(hub);
    const first = make();
    await hub.subscribe('c', first);
    await hub.publish('c', 1);
    hub.unsubscribe('c', first);
    await hub.publish('c', 2); // arrives while nobody is subscribed: the hub's position follows it
    expect(hub.channelCounts()).toEqual([]);
    expect(hub.followedCount).toBe(1);
    const history = vi.spyOn(broker, 'history');
    const returning = make();
    const result = await hub.subscribe('c', returning, { epoch: first.pubs[0]!.epoch, offset: 2 });
    expect(result).toMatchObject({ offset: 2, recovered: true });
    expect(history).not.toHaveBeenCalled();
    expect(broker.subscribeCalls).toEqual(['c']);
    expect(broker.unsubscribeCalls).toEqual([]);
    hub.unsubscribe('c', returning);
    await hub.stopLingering();
    expect(broker.unsubscribeCalls).toEqual(['c']);
  });

  it('unfollows once the linger has passed', async () => {
    vi.useFakeTimers();
    try {
      const broker = new LossyBroker();
      const hub = new Hub(broker, { lingerMs: 1000 });
      const sub = recorder(hub).make();
      await hub.subscribe('c', sub);
      hub.unsubscribe('c', sub);
      await vi.advanceTimersByTimeAsync(999);
      expect(broker.unsubscribeCalls).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(broker.unsubscribeCalls).toEqual(['c']);
      expect(hub.followedCount).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('Hub recent window', () => {
  async function followed(options: ConstructorParameters<typeof Hub>[1] = {}) {
    const broker = new LossyBroker(options.historySize ?? 100);
    const hub = new Hub(broker, options);
    const { make } = recorder(hub);
    const follower = make();
    await hub.subscribe('c', follower);
    for (let i = 1; i <= 10; i++) await hub.publish('c', i);
    const epoch = follower.pubs[0]!.epoch;
    return { broker, hub, make, epoch, history: vi.spyOn(broker, 'history') };
  }

  it('serves a recovery a few offsets behind the head without the broker', async () => {
    const { hub, make, epoch, history } = await followed();
    const poll = make();
    expect(await hub.subscribe('c', poll, { epoch, offset: 6 })).toMatchObject({ recovered: true, offset: 6 });
    expect(offsets(poll.pubs)).toEqual([7, 8, 9, 10]);
    expect(history).not.toHaveBeenCalled();
  });

  it('recovers no further back than the history size, like the broker', async () => {
    const { hub, make, epoch } = await followed({ historySize: 5 });
    const late = make();
    expect(await hub.subscribe('c', late, { epoch, offset: 4 })).toMatchObject({ recovered: false, offset: 10 });
    expect(late.pubs).toEqual([]);
    const inTime = make();
    expect(await hub.subscribe('c', inTime, { epoch, offset: 5 })).toMatchObject({ recovered: true });
    expect(offsets(inTime.pubs)).toEqual([6, 7, 8, 9, 10]);
  });

  it('does not serve publications older than the history TTL from the window', async () => {
    let now = 1_000_000;
    const { hub, make, epoch, history } = await followed({ historyTtlMs: 1000, now: () => now });
    now = Date.now() + 5000; // the broker stamped them with the real clock
    const poll = make();
    await hub.subscribe('c', poll, { epoch, offset: 8 });
    expect(history).toHaveBeenCalledTimes(1);
  });

  it('starts the window afresh after an epoch change', async () => {
    const { broker, hub, make, epoch, history } = await followed();
    broker.hubHandler.onPublication({ channel: 'c', epoch: 'next', offset: 1, data: 'x', time: Date.now() });
    const fresh = make();
    expect(await hub.subscribe('c', fresh, { epoch: 'next', offset: 0 })).toMatchObject({ recovered: true });
    expect(fresh.pubs.map((p) => [p.epoch, p.offset])).toEqual([['next', 1]]);
    expect(history).not.toHaveBeenCalled();
    // A position in the old epoch is not the window's business any more: the broker answers.
    await hub.subscribe('c', make(), { epoch, offset: 8 }).catch(() => undefined);
    expect(history).toHaveBeenCalledTimes(1);
  });
});

describe('Hub fast path', () => {
  it('serves a subscriber at the followed head without asking the broker, and still merges live traffic', async () => {
    const { broker, hub, make } = setup();
    const follower = make();
    await hub.subscribe('c', follower);
    await hub.publish('c', 1);
    const head = { epoch: follower.pubs[0]!.epoch, offset: 1 };
    const history = vi.spyOn(broker, 'history');
    const position = vi.spyOn(broker, 'position');
    const atHead = make();
    expect(await hub.subscribe('c', atHead, head)).toMatchObject({ offset: 1, recovered: true });
    const fresh = make();
    expect(await hub.subscribe('c', fresh)).toMatchObject({ offset: 1, recovered: false });
    expect(history).not.toHaveBeenCalled();
    expect(position).not.toHaveBeenCalled();
    await hub.publish('c', 2);
    expect(offsets(atHead.pubs)).toEqual([2]);
    expect(offsets(fresh.pubs)).toEqual([2]);
  });

  it('still reads history for a position behind the head', async () => {
    const { broker, hub, make } = setup();
    const follower = make();
    await hub.subscribe('c', follower);
    await hub.publish('c', 1);
    await hub.publish('c', 2);
    const behind = make();
    await hub.subscribe('c', behind, { epoch: follower.pubs[0]!.epoch, offset: 1 });
    expect(offsets(behind.pubs)).toEqual([2]);
  });
});
