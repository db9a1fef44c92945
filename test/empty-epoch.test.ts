import { describe, expect, it } from 'vitest';
import { emptyEpoch, emptyEpochTime, isEmptyEpoch } from '../contract/empty-epoch.js';
import { EMPTY_SKEW_MS, newEpoch, recoverableFromEmpty } from '../server/broker/broker.js';

// The empty position `0<T>:0` (contract/empty-epoch.ts) and the rule that recovers it (broker.ts).

describe('the empty epoch', () => {
  it('is 0 and the time in base36 ms, 10 characters, and reads back its time', () => {
    for (const t of [0, 1, 1_732_240_000_000, Date.now(), 36 ** 9 - 1]) {
      const epoch = emptyEpoch(t);
      expect([epoch.length, epoch[0], isEmptyEpoch(epoch), emptyEpochTime(epoch)]).toEqual([10, '0', true, t]);
    }
    expect(emptyEpoch(1_732_240_000_000)).toBe('00m3s2yy9s');
  });

  it('never matches an epoch the brokers make; the untimed `0` reads as seen at time 0', () => {
    const random = Array.from({ length: 2_000 }, () => newEpoch());
    expect(new Set(random.map((e) => e.length))).toEqual(new Set([12]));
    // Epochs of older versions: 8 characters (memory) or 12 (NATS).
    expect(['AbCdEfGh', '0bCdEfGh', '0123456789ab'].filter(isEmptyEpoch)).toEqual([]);
    expect(random.filter(isEmptyEpoch)).toEqual([]);
    expect(random.map(emptyEpochTime).filter((t) => t !== undefined)).toEqual([]);
    expect([isEmptyEpoch('0'), emptyEpochTime('0')]).toEqual([true, 0]);
    for (const other of ['00', '0A00000000', '1000000000', '00000000000', '0-00000000']) expect(isEmptyEpoch(other), other).toBe(false);
  });
});

describe('recoverableFromEmpty', () => {
  const T = 10_000_000;
  const since = { epoch: emptyEpoch(T), offset: 0 };
  const current = { epoch: 'gen1abcd', offset: 3 };

  it('takes offset 1 stored up to the skew allowance before T, not a millisecond earlier', () => {
    expect(EMPTY_SKEW_MS).toBe(1_000);
    expect(recoverableFromEmpty(since, current, { offset: 1, time: T - 1_000 }, 0)).toBe(true);
    expect(recoverableFromEmpty(since, current, { offset: 1, time: T - 1_001 }, 0)).toBe(false);
    expect(recoverableFromEmpty(since, current, { offset: 1, time: T + 86_400_000 }, 0)).toBe(true);
  });

  it('needs offset 1 retained, T at or after the horizon, and offset 0', () => {
    expect(recoverableFromEmpty(since, current, { offset: 2, time: T }, 0)).toBe(false);
    expect(recoverableFromEmpty(since, current, undefined, 0)).toBe(false);
    expect(recoverableFromEmpty(since, current, { offset: 1, time: T }, T)).toBe(true);
    expect(recoverableFromEmpty(since, current, { offset: 1, time: T }, T + 1)).toBe(false);
    expect(recoverableFromEmpty({ ...since, offset: 1 }, current, { offset: 1, time: T }, 0)).toBe(false);
    expect(recoverableFromEmpty({ epoch: 'gen1abcd', offset: 0 }, current, { offset: 1, time: T }, 0)).toBe(false);
  });

  it('recovers a still-empty channel with nothing, unless T is before the horizon', () => {
    const stillEmpty = { epoch: emptyEpoch(T + 5), offset: 0 };
    expect(recoverableFromEmpty(since, stillEmpty, undefined, T)).toBe(true);
    expect(recoverableFromEmpty(since, stillEmpty, undefined, T + 1)).toBe(false);
    expect(recoverableFromEmpty({ epoch: '0', offset: 0 }, stillEmpty, undefined, 1)).toBe(false);
  });
});
