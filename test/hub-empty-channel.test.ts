import { describe, expect, it, vi } from 'vitest';
import { EMPTY_EPOCH, UnrecoverablePositionError } from '../server/broker/broker.js';
import { offsets, setup } from './support/lossy-hub.js';

// Issue #7: a channel nobody published to is at 0:0 (EMPTY_EPOCH) and its first publication carries
// a real epoch. The hub keeps its subscribers gap-free across that change of epoch.

const EMPTY = { epoch: EMPTY_EPOCH, offset: 0 };
const positions = (pubs: Array<{ epoch: string; offset: number }>) => pubs.map((p) => `${p.epoch}:${p.offset}`);

describe('Hub on a channel nobody published to yet', () => {
  // Regression: the first publication's epoch differed from 0, so every live subscriber was dropped as unrecoverable.
  it('keeps a subscriber that got 0:0 live through the first generation', async () => {
    const { hub, make } = setup();
    const sub = make();
    expect(await hub.subscribe('c', sub)).toEqual({ channel: 'c', ...EMPTY, recovered: false });
    const first = await hub.publish('c', 1);
    await hub.publish('c', 2);
    expect(first.epoch).not.toBe(EMPTY_EPOCH);
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

  it('merges the first publications that arrive while a subscriber reads 0:0', async () => {
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
    expect(await subscribing).toMatchObject({ ...EMPTY, recovered: false });
    await vi.waitFor(() => expect(offsets(sub.pubs)).toEqual([1, 2, 3]));
    expect(sub.lost).toEqual([]);
  });

  it('fills the hole when the first live publication a 0:0 subscriber sees is not offset 1', async () => {
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

  it('recovers the first generation from history when the broker reports a gap on a 0:0 channel', async () => {
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

  it('drops subscribers of a 0:0 channel whose broker now names a fresh epoch at offset 0 (a generation was lost)', async () => {
    const { broker, hub, make } = setup();
    const sub = make();
    await hub.subscribe('c', sub);
    // What NatsBroker answers once a generation started after 0:0 was purged: a new epoch at 0 (nats-epochs.ts).
    const afterLoss = { epoch: 'afterloss', offset: 0 };
    vi.spyOn(broker, 'history').mockRejectedValue(new UnrecoverablePositionError('c', EMPTY, afterLoss));
    broker.hubHandler.onGap?.('c');
    await vi.waitFor(() => expect(sub.lost).toEqual(['c']));
    expect(broker.history).toHaveBeenCalledTimes(1);
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

describe('Hub recent window and a 0:0 recovery', () => {
  /** A long-poll that got 0:0 and left, and the first publication while the hub lingers on the channel. */
  async function pollAway() {
    const { broker, hub, make } = setup(100, { lingerMs: 60_000, recentSize: 4 });
    const poll = make();
    expect(await hub.subscribe('c', poll)).toMatchObject({ ...EMPTY, recovered: false });
    hub.unsubscribe('c', poll);
    const first = await hub.publish('c', 'first');
    return { broker, hub, make, first, history: vi.spyOn(broker, 'history') };
  }

  // Regression: the poll came back with its cursor 0:0 a moment after the first publication and was told recovered: false.
  it('serves 0:0 from the window when the hub saw the channel empty and then its generation from offset 1', async () => {
    const { hub, make, first, history } = await pollAway();
    const back = make();
    expect(await hub.subscribe('c', back, EMPTY)).toEqual({ channel: 'c', ...EMPTY, recovered: true });
    expect(positions(back.pubs)).toEqual([`${first.epoch}:1`]);
    await hub.publish('c', 'second');
    expect(offsets(back.pubs)).toEqual([1, 2]);
    expect(history).not.toHaveBeenCalled();
  });

  it('asks the broker, and says recovered: false, once the window no longer holds offset 1', async () => {
    const { hub, make, history } = await pollAway();
    for (let i = 2; i <= 5; i++) await hub.publish('c', i);
    const back = make();
    const result = await hub.subscribe('c', back, EMPTY);
    expect(result).toMatchObject({ offset: 5, recovered: false });
    expect(result.epoch).not.toBe(EMPTY_EPOCH);
    expect(back.pubs).toEqual([]);
    expect(history).toHaveBeenCalledTimes(1);
  });

  it('says recovered: false for 0:0 when the hub did not see the channel empty', async () => {
    const { hub, make } = setup(100, { lingerMs: 60_000 });
    const first = await hub.publish('c', 'before anyone followed');
    const follower = make();
    expect(await hub.subscribe('c', follower)).toMatchObject({ epoch: first.epoch, offset: 1, recovered: false });
    await hub.publish('c', 2);
    const back = make();
    expect(await hub.subscribe('c', back, EMPTY)).toMatchObject({ epoch: first.epoch, offset: 2, recovered: false });
    expect(back.pubs).toEqual([]);
  });

  it('answers 0:0 while the followed channel is still empty without asking the broker', async () => {
    const { broker, hub, make } = setup(100, { lingerMs: 60_000 });
    await hub.subscribe('c', make());
    const history = vi.spyOn(broker, 'history');
    const position = vi.spyOn(broker, 'position');
    expect(await hub.subscribe('c', make(), EMPTY)).toMatchObject({ ...EMPTY, recovered: true });
    expect(await hub.subscribe('c', make())).toMatchObject({ ...EMPTY, recovered: false });
    expect([history.mock.calls.length, position.mock.calls.length]).toEqual([0, 0]);
  });
});
