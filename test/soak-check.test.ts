// The soak's verdict rests on StreamCheck: it must see every kind of loss, or a green soak means nothing.
import { describe, expect, it } from 'vitest';
import type { Publication } from '../contract/index.js';
import { StreamCheck } from '../bench/soak-check.js';

const pub = (offset: number, epoch = 'e1', channel = 'soak:ch0'): Publication => ({ channel, offset, epoch, data: { seq: offset, t: 0, pad: '' }, time: 0 });
const start = (check: StreamCheck, offset = 0) => check.subscribed({ channel: 'soak:ch0', epoch: 'e1', offset, recovered: false });
const published = (offset: number, epoch = 'e1') => new Map([['soak:ch0', { epoch, offset }]]);

describe('soak StreamCheck', () => {
  it('passes a complete stream in order', () => {
    const check = new StreamCheck('ws');
    start(check, 3);
    [4, 5, 6].forEach((o) => check.publication(pub(o), 0));
    expect(check.caughtUp(published(6))).toBe(true);
    expect(check.finish(published(6))).toMatchObject({ received: 3, gaps: 0, lost: 0, outOfOrder: 0 });
  });

  it('counts a hole in the offsets as a gap with its lost publications', () => {
    const check = new StreamCheck('ws');
    start(check);
    [1, 2, 5].forEach((o) => check.publication(pub(o), 0));
    expect(check.finish(published(5))).toMatchObject({ received: 3, gaps: 1, lost: 2 });
  });

  it('counts publications that never arrived after the last one received', () => {
    const check = new StreamCheck('sse');
    start(check);
    check.publication(pub(1), 0);
    expect(check.caughtUp(published(4))).toBe(false);
    expect(check.finish(published(4))).toMatchObject({ gaps: 1, lost: 3 });
  });

  it('counts repeated or backward offsets and epoch changes', () => {
    const check = new StreamCheck('ws');
    start(check);
    [1, 2, 2, 1].forEach((o) => check.publication(pub(o), 0));
    check.publication(pub(1, 'e2'), 0);
    expect(check.finish(published(1, 'e2'))).toMatchObject({ outOfOrder: 2, gaps: 1 });
  });

  it('accepts a poll result that continues the cursor and flags one that does not', () => {
    const check = new StreamCheck('poll');
    start(check);
    check.publication(pub(1), 0);
    check.subscribed({ channel: 'soak:ch0', epoch: 'e1', offset: 1, recovered: true });
    expect(check.finish(published(1))).toMatchObject({ gaps: 0 });
    const lossy = new StreamCheck('poll');
    start(lossy);
    lossy.subscribed({ channel: 'soak:ch0', epoch: 'e1', offset: 40, recovered: false });
    expect(lossy.finish(published(40))).toMatchObject({ gaps: 1, lost: 40 });
  });

  it('counts a channel it never subscribed as lost entirely', () => {
    expect(new StreamCheck('ws').finish(published(7))).toMatchObject({ gaps: 1, lost: 7 });
  });
});
