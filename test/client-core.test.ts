import { describe, expect, it, vi } from 'vitest';
import type { Publication } from '../contract/index.js';
import { Emitter, Hubbub, HubbubError, backoffDelay } from '../client/index.js';
import { ChannelState, type SubscriptionStateEvent } from '../client/subscription.js';

const pub = (offset: number, epoch = 'e1'): Publication => ({ channel: 'chat:a', epoch, offset, data: offset, time: 0 });

function channel(since?: { epoch: string; offset: number }) {
  const delivered: number[] = [];
  const states: SubscriptionStateEvent[] = [];
  const ch = new ChannelState('chat:a', {
    ...(since ? { since } : {}),
    onPublication: (p) => delivered.push(p.offset),
    onState: (s) => states.push(s),
  });
  return { ch, delivered, states };
}

describe('ChannelState: exactly-once, in order, no silent gap', () => {
  it('drops publications at or below its position in the same epoch', () => {
    const { ch, delivered } = channel();
    ch.subscribed({ channel: 'chat:a', epoch: 'e1', offset: 3, recovered: false });
    expect([2, 3, 4, 4, 5, 3].map((o) => ch.publication(pub(o)))).toEqual(['duplicate', 'duplicate', 'delivered', 'duplicate', 'delivered', 'duplicate']);
    expect(delivered).toEqual([4, 5]);
    expect(ch.position).toEqual({ epoch: 'e1', offset: 5 });
  });

  it('reports a skipped offset or a new epoch as a gap and delivers neither', () => {
    const { ch, delivered } = channel();
    ch.subscribed({ channel: 'chat:a', epoch: 'e1', offset: 0, recovered: false });
    expect(ch.publication(pub(2))).toBe('gap');
    expect(ch.publication(pub(1, 'e2'))).toBe('gap');
    expect(delivered).toEqual([]);
    expect(ch.position).toEqual({ epoch: 'e1', offset: 0 });
  });

  it('ignores publications while (re)subscribing: the subscribed reply says where the stream starts', () => {
    const { ch, delivered } = channel({ epoch: 'e1', offset: 7 });
    expect(ch.publication(pub(8))).toBe('ignored');
    ch.subscribed({ channel: 'chat:a', epoch: 'e1', offset: 7, recovered: true });
    expect(ch.publication(pub(8))).toBe('delivered');
    expect(delivered).toEqual([8]);
  });

  it('tells the app recovered true/false on every resubscribe, and skips repeats that change nothing', () => {
    const { ch, states } = channel();
    expect(ch.subscribed({ channel: 'chat:a', epoch: 'e1', offset: 2, recovered: false })).toBe(true);
    // Long-poll repeats the same result with every response: not news.
    expect(ch.subscribed({ channel: 'chat:a', epoch: 'e1', offset: 2, recovered: true })).toBe(false);
    ch.subscribing('reconnect');
    expect(ch.subscribed({ channel: 'chat:a', epoch: 'e2', offset: 9, recovered: false })).toBe(true);
    expect(states).toEqual([
      { state: 'subscribed', recovered: false, epoch: 'e1', offset: 2 },
      { state: 'subscribing', reason: 'reconnect' },
      { state: 'subscribed', recovered: false, epoch: 'e2', offset: 9 },
    ]);
    expect(ch.position).toEqual({ epoch: 'e2', offset: 9 });
  });

  it('never moves its position back within an epoch on a recovered resubscribe', () => {
    const { ch, delivered } = channel();
    ch.subscribed({ channel: 'chat:a', epoch: 'e1', offset: 0, recovered: false });
    ch.publication(pub(1));
    ch.publication(pub(2));
    ch.subscribing('reconnect');
    ch.subscribed({ channel: 'chat:a', epoch: 'e1', offset: 1, recovered: true });
    expect(ch.position).toEqual({ epoch: 'e1', offset: 2 });
    expect([2, 3].map((o) => ch.publication(pub(o)))).toEqual(['duplicate', 'delivered']);
    expect(delivered).toEqual([1, 2, 3]);
  });

  it('keeps its state when the app callback throws; the error is rethrown on a later task', () => {
    const deferred: Array<() => void> = [];
    vi.stubGlobal('queueMicrotask', (fn: () => void) => deferred.push(fn));
    try {
      const ch = new ChannelState('chat:a', {
        onPublication: () => {
          throw new Error('app bug');
        },
      });
      ch.subscribed({ channel: 'chat:a', epoch: 'e1', offset: 0, recovered: false });
      expect(ch.publication(pub(1))).toBe('delivered');
      expect(ch.position?.offset).toBe(1);
      expect(deferred).toHaveLength(1);
      expect(() => deferred[0]!()).toThrow('app bug');
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('backoffDelay (full jitter)', () => {
  const o = (r: number) => ({ minDelay: 100, maxDelay: 1000, random: () => r });
  it('is uniform in [0, min * 2^attempt), capped at maxDelay', () => {
    expect([0, 1, 2, 3, 4, 10, 1000].map((a) => backoffDelay(a, o(0.5)))).toEqual([50, 100, 200, 400, 500, 500, 500]);
    expect(backoffDelay(3, o(0))).toBe(0);
    expect(backoffDelay(3, o(0.9999))).toBe(799);
  });
});

describe('Emitter', () => {
  class E extends Emitter<{ n: [value: number] }> {
    fire(v: number) {
      this.emit('n', v);
    }
  }
  it('calls listeners with typed arguments; once() and the returned off() remove them', () => {
    const e = new E();
    const got: string[] = [];
    const off = e.on('n', (v) => got.push(`on${v}`));
    e.once('n', (v) => got.push(`once${v}`));
    e.fire(1);
    off();
    e.fire(2);
    expect(got).toEqual(['on1', 'once1']);
    expect(e.listenerCount('n')).toBe(0);
  });
});

describe('Hubbub.subscribe checks its arguments locally', () => {
  const h = new Hubbub('http://127.0.0.1:1', { autoConnect: false });
  const onPublication = () => undefined;

  it('rejects an invalid channel name, a duplicate subscription and a malformed since', () => {
    expect(() => h.subscribe('bad channel', { onPublication })).toThrow(expect.objectContaining({ name: 'HubbubError', code: 'invalid_channel' }));
    h.subscribe('chat:x', { onPublication });
    expect(() => h.subscribe('chat:x', { onPublication })).toThrow(HubbubError);
    expect(() => h.subscribe('chat:y', { onPublication, since: { epoch: 'no spaces', offset: 1 } })).toThrow(
      expect.objectContaining({ code: 'invalid_cursor' }),
    );
    expect(h.state).toBe('disconnected');
  });
});
