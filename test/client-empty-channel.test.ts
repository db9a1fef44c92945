import { describe, expect, it, vi } from 'vitest';
import { Hubbub, type Publication, type SubscriptionStateEvent } from '../client/index.js';
import { ChannelState } from '../client/subscription.js';
import { startServer } from './support/server.js';

// Issue #7: a channel nobody published to is at 0:0 and its first publication brings a real epoch.
// The client must take that offset 1 as the next publication, not as a new epoch (a gap).

const pub = (offset: number, epoch = 'e1'): Publication => ({ channel: 'chat:a', epoch, offset, data: offset, time: 0 });

describe('ChannelState at 0:0', () => {
  it('delivers the first generation from offset 1, whatever its epoch, and reports a skipped offset as a gap', () => {
    const delivered: string[] = [];
    const ch = new ChannelState('chat:a', { onPublication: (p) => delivered.push(`${p.epoch}:${p.offset}`) });
    ch.subscribed({ channel: 'chat:a', epoch: '0', offset: 0, recovered: false });
    expect([ch.publication(pub(1)), ch.publication(pub(1)), ch.publication(pub(2))]).toEqual(['delivered', 'duplicate', 'delivered']);
    expect(delivered).toEqual(['e1:1', 'e1:2']);

    const late = new ChannelState('chat:a', { onPublication: () => undefined });
    late.subscribed({ channel: 'chat:a', epoch: '0', offset: 0, recovered: false });
    expect(late.publication(pub(2))).toBe('gap');
    expect(late.position).toEqual({ epoch: '0', offset: 0 });
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
      expect(states).toEqual([
        { state: 'subscribing', reason: 'initial' },
        { state: 'subscribed', recovered: false, epoch: '0', offset: 0 },
      ]);
    } finally {
      hub.close();
    }
  });
});
