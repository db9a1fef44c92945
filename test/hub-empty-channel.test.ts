import { describe, expect, it, vi } from 'vitest';
import type { StreamPosition } from '../contract/index.js';
import { emptyEpoch, isEmptyEpoch } from '../contract/empty-epoch.js';
import { UnrecoverablePositionError } from '../server/broker/broker.js';
import { offsets, setup } from './support/lossy-hub.js';

// Issue #7: a channel nobody published to is at an empty position, `0<T>:0` (T: when it was seen
// empty), and its first publication carries a real epoch. The hub keeps its subscribers gap-free
// across that change of epoch.

const isEmpty = (p: StreamPosition) => isEmptyEpoch(p.epoch) && p.offset === 0;
const positions = (pubs: Array<{ epoch: string; offset: number }>) => pubs.map((p) => `${p.epoch}:${p.offset}`);

describe('Hub on a channel nobody published to yet', () => {
  // Regression: the first publication's epoch differed from 0, so every live subscriber was dropped as unrecoverable.
  it('keeps a subscriber that got an empty position live through the first generation', async () => {
    const { hub, make } = setup();
    const sub = make();
    const result = await hub.subscribe('c', sub);
    expect([isEmpty(result), result.recovered]).toEqual([true, false]);
    const first = await hub.publish('c', 1);
    await hub.publish('c', 2);
    expect(isEmptyEpoch(first.epoch)).toBe(false);
    expect(positions(sub.pubs)).toEqual([`${first.epoch}:1`, `${first.epoch}:2`]);
    expect(sub.lost).toEqual([]);
  });

  it('fills a first generation that reaches the hub at offset 2 from history, from offset 1', async () => {
    const { broker, hub, make } = setup();
    const sub = make();
    await hub.subscribe('c', sub);
    broker.dropLive = true;
    await hub.publish('c', 1);
    broker.dropLive = false;
    await hub.publish('c', 2);
    await vi.waitFor(() => expect(offsets(sub.pubs)).toEqual([1, 2]));
    await hub.publish('c', 3);
    expect(offsets(sub.pubs)).toEqual([1, 2, 3]);
    expect(sub.lost).toEqual([]);
  });

  it('merges the first publications that arrive while a subscriber reads an empty position', async () => {
    const { broker, hub, make } = setup();
    let open!: () => void;
    broker.positionGate = new Promise<void>((r) => (open = r));
    const sub = make();
    const position = vi.spyOn(broker, 'position');
    const subscribing = hub.subscribe('c', sub);
    await vi.waitFor(() => expect(position).toHaveBeenCalledTimes(1));
    // 1 reaches the hub live; 2 is lost live and must come from history.
    await hub.publish('c', 1);
    broker.dropLive = true;
    await hub.publish('c', 2);
    broker.dropLive = false;
    await hub.publish('c', 3);
    open();
    const result = await subscribing;
    expect([isEmpty(result), result.recovered]).toEqual([true, false]);
    await vi.waitFor(() => expect(offsets(sub.pubs)).toEqual([1, 2, 3]));
    expect(sub.lost).toEqual([]);
  });

  it('fills the hole when the first live publication an empty-position subscriber sees is not offset 1', async () => {
    const { broker, hub, make } = setup();
    let open!: () => void;
    broker.positionGate = new Promise<void>((r) => (open = r));
    const sub = make();
    const position = vi.spyOn(broker, 'position');
    const subscribing = hub.subscribe('c', sub);
    await vi.waitFor(() => expect(position).toHaveBeenCalledTimes(1));
    broker.dropLive = true;
    await hub.publish('c', 1);
    broker.dropLive = false;
    await hub.publish('c', 2);
    open();
    await subscribing;
    await vi.waitFor(() => expect(offsets(sub.pubs)).toEqual([1, 2]));
    expect(sub.lost).toEqual([]);
  });

  it('recovers the first generation from history when the broker reports a gap on an empty channel', async () => {
    const { broker, hub, make } = setup();
    const sub = make();
    await hub.subscribe('c', sub);
    broker.dropLive = true;
    await hub.publish('c', 1);
    await hub.publish('c', 2);
    broker.dropLive = false;
    broker.hubHandler.onGap?.('c');
    await vi.waitFor(() => expect(offsets(sub.pubs)).toEqual([1, 2]));
    expect(sub.lost).toEqual([]);
  });

  it('drops subscribers of an empty channel whose broker now names a fresh epoch at offset 0 (a generation was lost)', async () => {
    const { broker, hub, make } = setup();
    const sub = make();
    await hub.subscribe('c', sub);
    // What NatsBroker answers once a generation started after the empty position was purged: a new epoch at 0 (server/broker/nats/epochs.ts).
    const afterLoss = { epoch: 'afterloss', offset: 0 };
    const seen = { epoch: emptyEpoch(Date.now()), offset: 0 };
    vi.spyOn(broker, 'history').mockRejectedValue(new UnrecoverablePositionError('c', seen, afterLoss));
    broker.hubHandler.onGap?.('c');
    await vi.waitFor(() => expect(sub.lost).toEqual(['c']));
    expect(broker.history).toHaveBeenCalledTimes(1);
  });

  // Regression: after a bare gap the hub read the broker's current generation from offset 0 even when
  // the broker refused the empty position, which NatsBroker does when a generation was lost before it.
  it('drops subscribers of an empty position that the broker refuses after a bare gap, though it names a generation at offset 2', async () => {
    const { broker, hub, make } = setup();
    const sub = make();
    const seen = await hub.subscribe('c', sub);
    const after = { epoch: 'afterloss', offset: 2 };
    const pubs = [1, 2].map((offset) => ({ channel: 'c', epoch: after.epoch, offset, data: offset, time: Date.now() }));
    const history = vi.spyOn(broker, 'history').mockImplementation(async (_channel, query) => {
      if (query?.since && isEmpty(query.since)) throw new UnrecoverablePositionError('c', seen, after);
      return { publications: pubs, ...after };
    });
    broker.hubHandler.onGap?.('c');
    await vi.waitFor(() => expect(sub.lost).toEqual(['c']));
    expect(sub.pubs).toEqual([]);
    expect(history).toHaveBeenCalledTimes(1);
  });

  it('still drops subscribers when a generation after the first one shows up', async () => {
    const { broker, hub, make } = setup();
    const sub = make();
    await hub.subscribe('c', sub);
    await hub.publish('c', 1);
    broker.hubHandler.onPublication({ channel: 'c', epoch: 'reset', offset: 1, data: 'new life', time: Date.now() });
    expect(sub.lost).toEqual(['c']);
  });
});

describe('Hub recent window and an empty position', () => {
  /**
   * A long-poll that saw the channel empty at 5,000,000 and left, and the first publication at
   * 5,000,100 while the hub lingers on the channel. The broker started at 4,000,000, on the same clock.
   */
  async function pollAway(historySize = 100) {
    const clock = { now: 4_000_000 };
    const { broker, hub, make } = setup(historySize, { lingerMs: 60_000, recentSize: 4, now: () => clock.now });
    clock.now = 5_000_000;
    const poll = make();
    const seen = await hub.subscribe('c', poll);
    expect([seen.epoch, seen.offset, seen.recovered]).toEqual([emptyEpoch(5_000_000), 0, false]);
    hub.unsubscribe('c', poll);
    clock.now = 5_000_100;
    const first = await hub.publish('c', 'first');
    return { broker, hub, make, first, clock, history: vi.spyOn(broker, 'history') };
  }
  const at = (time: number) => ({ epoch: emptyEpoch(time), offset: 0 });

  // Regression: the poll came back with its empty cursor a moment after the first publication and was told recovered: false.
  it('serves the empty position from the window when the hub saw the channel empty and then its generation from offset 1', async () => {
    const { hub, make, first, history } = await pollAway();
    const back = make();
    expect(await hub.subscribe('c', back, at(5_000_000))).toEqual({ channel: 'c', ...at(5_000_000), recovered: true });
    expect(positions(back.pubs)).toEqual([`${first.epoch}:1`]);
    await hub.publish('c', 'second');
    expect(offsets(back.pubs)).toEqual([1, 2]);
    // Seen empty after the hub saw it, up to the skew allowance past offset 1: the window answers too.
    for (const time of [5_000_050, 5_001_100]) {
      const later = make();
      expect(await hub.subscribe('c', later, at(time))).toMatchObject({ ...at(time), recovered: true });
      expect(offsets(later.pubs)).toEqual([1, 2]);
    }
    expect(history).not.toHaveBeenCalled();
  });

  it('asks the broker for an empty position seen before the hub saw the channel empty, which recovers it', async () => {
    const { hub, make, first, history } = await pollAway();
    const back = make();
    expect(await hub.subscribe('c', back, at(4_500_000))).toMatchObject({ ...at(4_500_000), recovered: true });
    expect(positions(back.pubs)).toEqual([`${first.epoch}:1`]);
    expect(history).toHaveBeenCalledTimes(1);
  });

  it('refuses an empty position seen more than the skew allowance after offset 1, in the window and at the broker alike', async () => {
    const { hub, make, first, history } = await pollAway();
    const back = make();
    expect(await hub.subscribe('c', back, at(5_001_101))).toEqual({ channel: 'c', epoch: first.epoch, offset: 1, recovered: false });
    expect(back.pubs).toEqual([]);
    expect(history).toHaveBeenCalledTimes(1);
  });

  it('says recovered: false once history no longer holds offset 1', async () => {
    const { hub, make, history } = await pollAway(4);
    for (let i = 2; i <= 5; i++) await hub.publish('c', i);
    const back = make();
    const result = await hub.subscribe('c', back, at(5_000_000));
    expect(result).toMatchObject({ offset: 5, recovered: false });
    expect(isEmptyEpoch(result.epoch)).toBe(false);
    expect(back.pubs).toEqual([]);
    expect(history).toHaveBeenCalledTimes(1);
  });

  // Regression: a node that had not seen the channel empty told every empty position recovered: false.
  it('recovers an empty position from the broker when the hub did not see the channel empty', async () => {
    const { hub, make } = setup(100, { lingerMs: 60_000 });
    const seen = at(Date.now());
    const first = await hub.publish('c', 'before anyone followed');
    const follower = make();
    expect(await hub.subscribe('c', follower)).toMatchObject({ epoch: first.epoch, offset: 1, recovered: false });
    await hub.publish('c', 2);
    const back = make();
    expect(await hub.subscribe('c', back, seen)).toEqual({ channel: 'c', ...seen, recovered: true });
    expect(offsets(back.pubs)).toEqual([1, 2]);
    // The untimed `0` of older servers: seen empty at time 0, before anything the broker remembers.
    const untimed = make();
    expect(await hub.subscribe('c', untimed, { epoch: '0', offset: 0 })).toMatchObject({ epoch: first.epoch, offset: 2, recovered: false });
    expect(untimed.pubs).toEqual([]);
  });

  it('answers an empty position while the followed channel is still empty, asking the broker only for one seen before the hub did', async () => {
    const clock = { now: 4_000_000 };
    const { broker, hub, make } = setup(100, { lingerMs: 60_000, now: () => clock.now });
    clock.now = 5_000_000;
    const own = await hub.subscribe('c', make());
    const history = vi.spyOn(broker, 'history');
    const position = vi.spyOn(broker, 'position');
    expect(await hub.subscribe('c', make(), own)).toMatchObject({ epoch: own.epoch, offset: 0, recovered: true });
    expect(await hub.subscribe('c', make(), at(5_000_001))).toMatchObject({ ...at(5_000_001), recovered: true });
    expect(await hub.subscribe('c', make())).toMatchObject({ epoch: own.epoch, offset: 0, recovered: false });
    expect([history.mock.calls.length, position.mock.calls.length]).toEqual([0, 0]);
    expect(await hub.subscribe('c', make(), at(4_999_999))).toMatchObject({ ...at(4_999_999), recovered: true });
    expect([history.mock.calls.length, position.mock.calls.length]).toEqual([1, 0]);
  });
});
