import { describe, expect, it, vi } from 'vitest';
import { Hubbub, type Publication, type SubscriptionStateEvent } from '../client/index.js';
import { ChannelState } from '../client/subscription.js';
import { emptyEpoch, isEmptyEpoch } from '../contract/empty-epoch.js';
import { startServer } from './support/server.js';

// Issue #7: a channel nobody published to is at an empty position, `0<T>:0`, and its first
// publication brings a real epoch. The client must take that offset 1 as the next publication,
// not as a new epoch (a gap).

const EMPTY = emptyEpoch(1_732_240_000_000);

const pub = (offset: number, epoch = 'e1'): Publication => ({ channel: 'chat:a', epoch, offset, data: offset, time: 0 });

describe('ChannelState at an empty position', () => {
  // Regression: the empty epoch became timed (`0` and 9 base36 digits); only the untimed `0` was recognised.
  it.each([EMPTY, '0'])('delivers the first generation from offset 1 after %s:0, whatever its epoch, and reports a skipped offset as a gap', (epoch) => {
    const delivered: string[] = [];
    const ch = new ChannelState('chat:a', { onPublication: (p) => delivered.push(`${p.epoch}:${p.offset}`) });
    ch.subscribed({ channel: 'chat:a', epoch, offset: 0, recovered: false });
    expect([ch.publication(pub(1)), ch.publication(pub(1)), ch.publication(pub(2))]).toEqual(['delivered', 'duplicate', 'delivered']);
    expect(delivered).toEqual(['e1:1', 'e1:2']);

    const late = new ChannelState('chat:a', { onPublication: () => undefined });
    late.subscribed({ channel: 'chat:a', epoch, offset: 0, recovered: false });
    expect(late.publication(pub(2))).toBe('gap');
    expect(late.position).toEqual({ epoch, offset: 0 });
  });

  it('takes a real epoch of 10 characters starting with 0 for what it is', () => {
    const ch = new ChannelState('chat:a', { onPublication: () => undefined });
    ch.subscribed({ channel: 'chat:a', epoch: '0Ab-_cdefg', offset: 0, recovered: false });
    expect(ch.publication(pub(1))).toBe('gap');
  });
});

describe('Hubbub client on a channel nobody published to', () => {
  // Regression: the client took the first publication's epoch for a gap, resubscribed from 0:0, was
  // served the same publication again, and looped without ever delivering it.
  it('receives the first publications over long-poll without resubscribing', async () => {
    await using srv = await startServer();
    const hub = new Hubbub(srv.url, { transports: ['poll'], pollTimeout: 5_000 });
    try {
      const states: SubscriptionStateEvent[] = [];
      const pubs: string[] = [];
      hub.subscribe('fresh', { onState: (s) => states.push(s), onPublication: (p) => pubs.push(`${p.epoch}:${p.offset}`) });
      await vi.waitFor(() => expect(states.map((s) => s.state)).toContain('subscribed'));
      const first = await srv.publish('fresh', 1);
      await srv.publish('fresh', 2);
      await vi.waitFor(() => expect(pubs).toEqual([`${first.epoch}:1`, `${first.epoch}:2`]));
      expect(states).toMatchObject([
        { state: 'subscribing', reason: 'initial' },
        { state: 'subscribed', recovered: false, offset: 0 },
      ]);
      const subscribed = states[1]!;
      expect(subscribed.state === 'subscribed' && isEmptyEpoch(subscribed.epoch)).toBe(true);
    } finally {
      hub.close();
    }
  });
});
