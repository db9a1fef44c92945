import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { Hubbub, type HubbubEvents, type HubbubOptions, type Publication, type SubscribeOptions, type SubscriptionStateEvent, type TransportName } from '../../client/index.js';
import { FakePeer } from './fake-peer.js';
import { ManualTimers } from './manual-timers.js';

// Disposable fake peers and clients for the client test files, closed after each test.

export function hubFixtures() {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    async peer(port = 0): Promise<FakePeer> {
      const p = await FakePeer.start(port);
      cleanups.push(() => p.close());
      return p;
    },
    /** random: () => 0 makes every reconnect delay 0 (unless the server asks for more). */
    hub(p: FakePeer, options: HubbubOptions = {}): Hubbub {
      const h = new Hubbub(p.url, { WebSocket, random: () => 0, pollTimeout: 5_000, ...options });
      cleanups.push(() => h.close());
      return h;
    },
  };
}

export const only = (t: TransportName): HubbubOptions => ({ transports: [t] });

/** The next emission of `event`, as its argument list. */
export function next<K extends keyof HubbubEvents>(h: Hubbub, event: K): Promise<HubbubEvents[K]> {
  return new Promise((resolve) => h.once(event, (...args) => resolve(args)));
}

/** Every emission of `event` from now on (first arguments). */
export function record<K extends keyof HubbubEvents>(h: Hubbub, event: K): Array<HubbubEvents[K][0]> {
  const seen: Array<HubbubEvents[K][0]> = [];
  h.on(event, (...args) => seen.push(args[0]));
  return seen;
}

/**
 * One virtual clock for the client (timers and `now`) and the peer's token checks. Connect and
 * poll timeouts are set far out, so moving the clock by minutes fires only the timers under test.
 */
export function virtualTime(p: FakePeer) {
  const timers = new ManualTimers();
  const t0 = Date.UTC(2026, 10, 27, 9);
  const now = () => t0 + timers.now;
  p.auth.now = now;
  // No server pings: an SSE stream is not taken for stale while the clock jumps.
  p.pingInterval = 1e9;
  const options: HubbubOptions = { timers, now, connectTimeout: 1e10, pollTimeout: 1e10 };
  return { timers, now, options };
}

/** A getToken that hands out the given tokens in turn (the last one again when they run out) and counts its calls. */
export function tokens(...list: string[]): { getToken: () => Promise<string>; calls: () => number } {
  let n = 0;
  return {
    getToken: async () => list[Math.min(n++, list.length - 1)]!,
    calls: () => n,
  };
}

/** Like collect(), with subscribe options (tokens) of the test's choosing. */
export function collectWith(h: Hubbub, channel: string, options: Omit<SubscribeOptions, 'onPublication' | 'onState' | 'onError'>) {
  const pubs: Publication[] = [];
  const states: SubscriptionStateEvent[] = [];
  const errors: Error[] = [];
  const sub = h.subscribe(channel, { ...options, onPublication: (p) => pubs.push(p), onState: (s) => states.push(s), onError: (e) => errors.push(e) });
  const subscribed = () => states.filter((s) => s.state === 'subscribed');
  return { sub, pubs, states, errors, subscribed, data: () => pubs.map((p) => p.data) };
}
