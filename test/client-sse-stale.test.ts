import { afterEach, describe, expect, it, vi } from 'vitest';
import { DISCONNECT_TABLE } from '../contract/index.js';
import { Hubbub, type HubbubEvents } from '../client/index.js';
import { sseStaleTimeout } from '../client/transports/sse.js';
import { collect } from './support/collect.js';
import { FakePeer } from './support/fake-peer.js';
import { ManualTimers } from './support/manual-timers.js';

/**
 * A silently dead SSE stream (half-open TCP, a proxy that went away) delivers nothing and never
 * errors. The client must notice from the missing `ping` events, as it does on WebSocket from
 * missing pongs. Time is virtual: the fake peer's stream stays open while the test moves the clock.
 */

const PING_INTERVAL = 1_000;
const STALE = sseStaleTimeout(PING_INTERVAL);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sseClient() {
  const peer = await FakePeer.start();
  cleanups.push(() => peer.close());
  peer.pingInterval = PING_INTERVAL;
  const timers = new ManualTimers();
  // random: () => 0 makes the reconnect delay 0: advance(0) runs it.
  const hub = new Hubbub(peer.url, { transports: ['sse'], timers, random: () => 0 });
  cleanups.push(() => hub.close());
  const connected: Array<HubbubEvents['connected'][0]> = [];
  const disconnected: Array<HubbubEvents['disconnected'][0]> = [];
  hub.on('connected', (info) => connected.push(info));
  hub.on('disconnected', (info) => disconnected.push(info));
  return { peer, timers, hub, connected, disconnected };
}

describe('Hubbub over SSE: a silent stream', () => {
  it('announces the client id and node of the connected event', async () => {
    const { hub, connected } = await sseClient();
    const c = collect(hub, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    expect(connected).toEqual([{ transport: 'sse', client: 'sse-1', node: 'fake' }]);
  });

  it('is closed as stale after two ping intervals and a margin, and the client reconnects and recovers', async () => {
    const { peer, timers, hub, disconnected } = await sseClient();
    const c = collect(hub, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    peer.publish('chat:a', 1);
    peer.publish('chat:a', 2);
    await vi.waitFor(() => expect(c.data()).toEqual([1, 2]));

    // The link dies without a word: the socket stays open, the next publication never arrives.
    peer.skipNext.add('chat:a');
    peer.publish('chat:a', 3);
    timers.advance(STALE - 1);
    expect(disconnected).toEqual([]);
    // Stale now; the reconnect (delay 0) runs within the same step.
    timers.advance(1);
    expect(disconnected).toEqual([{ code: DISCONNECT_TABLE.stale.code, reason: expect.any(String), reconnectIn: 0 }]);

    await vi.waitFor(() => expect(c.data()).toEqual([1, 2, 3]));
    expect(c.subscribed().map((s) => s.recovered)).toEqual([false, true]);
    expect(peer.log.map((l) => l.since)).toEqual([[undefined], [{ epoch: peer.channel('chat:a').epoch, offset: 2 }]]);
    // The dead stream was closed by the client, not left open beside the new one.
    await vi.waitFor(() => expect(peer.openSseStreams).toBe(1));
  });

  it('stays open while ping events keep coming, and goes stale once they stop', async () => {
    const { peer, timers, hub, disconnected } = await sseClient();
    const c = collect(hub, 'chat:a');
    await vi.waitFor(() => expect(c.subscribed()).toHaveLength(1));
    const staleDue = () => [...timers.pending.values()].find((t) => t.ms === STALE)?.due;

    // Three stale timeouts' worth of virtual time, with a ping every interval.
    for (let i = 0; i < (3 * STALE) / PING_INTERVAL; i++) {
      timers.advance(PING_INTERVAL);
      peer.pingSse();
      await vi.waitFor(() => expect(staleDue()).toBe(timers.now + STALE), { interval: 5 });
    }
    expect(disconnected).toEqual([]);
    expect(hub.state).toBe('connected');
    expect([peer.log.length, peer.openSseStreams]).toEqual([1, 1]);

    timers.advance(STALE);
    expect(disconnected.map((d) => d.code)).toEqual([DISCONNECT_TABLE.stale.code]);
  });
});
