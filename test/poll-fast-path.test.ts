import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Publication, type StreamPosition, type SubscribeResult, emptyEpoch, isEmptyEpoch } from '../contract/index.js';
import { type Broker, UnrecoverablePositionError } from '../server/broker/broker.js';
import type { Hub } from '../server/hub/hub.js';
import type { StartingPoint } from '../server/hub/starting-point.js';
import { type LossyBroker, recorder, setup } from './support/lossy-hub.js';

// The long-poll's fast paths (server/transports/poll.ts): Hub.catchUp answers a poll with news from
// the recent window without subscribing, Hub.subscribeNow registers a poll at the head without a
// broker round trip. Over random histories (publications, lost live deliveries, time passing beyond
// the history TTL, a channel followed late or never published to) and random cursors, each must give
// exactly what the slow path gives: subscribe() on the same hub, and the broker itself (what a node
// that never followed the channel answers).

const T0 = Date.UTC(2026, 10, 27, 9);
const TTL = 60_000;
const C = 'fast:c';

type Step = { kind: 'publish'; n: number } | { kind: 'lose'; n: number } | { kind: 'wait'; ms: number } | { kind: 'follow' };
type CursorPick = { kind: 'none' } | { kind: 'current'; back: number } | { kind: 'other'; offset: number } | { kind: 'empty'; dt: number; offset: number };

const step = fc.oneof(
  fc.record({ kind: fc.constant('publish' as const), n: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('lose' as const), n: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(1, 1000, 30_000, TTL + 1) }),
  fc.constant({ kind: 'follow' as const }),
);
const cursor = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('current' as const), back: fc.integer({ min: -2, max: 16 }) }),
  fc.record({ kind: fc.constant('other' as const), offset: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('empty' as const), dt: fc.integer({ min: -200_000, max: 1000 }), offset: fc.constantFrom(0, 0, 1) }),
);
const scenario = fc.record({
  historySize: fc.integer({ min: 2, max: 12 }),
  recentSize: fc.integer({ min: 1, max: 12 }),
  steps: fc.array(step, { maxLength: 14 }),
  cursors: fc.array(cursor, { minLength: 1, maxLength: 6 }),
});

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** What the broker alone answers: where a subscription from `since` starts, and its backlog. */
async function brokerStart(broker: Broker, since: StreamPosition | undefined): Promise<StartingPoint> {
  if (!since) return { result: { channel: C, ...(await broker.position(C)), recovered: false }, backlog: [] };
  try {
    const page = await broker.history(C, { since });
    return { result: { channel: C, epoch: since.epoch, offset: since.offset, recovered: true }, backlog: page.publications };
  } catch (err) {
    if (!(err instanceof UnrecoverablePositionError)) throw err;
    return { result: { channel: C, ...err.current, recovered: false }, backlog: [] };
  }
}

/** An empty position names when it was seen empty: two of them mean the same (nothing stored). */
const sameResult = (a: SubscribeResult) => (isEmptyEpoch(a.epoch) && a.offset === 0 ? { ...a, epoch: 'EMPTY' } : a);

function pick(c: CursorPick, head: StreamPosition, now: number): StreamPosition | undefined {
  if (c.kind === 'none') return undefined;
  if (c.kind === 'other') return { epoch: 'otherEp1', offset: c.offset };
  if (c.kind === 'empty') return { epoch: emptyEpoch(now + c.dt), offset: c.offset };
  return { epoch: head.epoch, offset: Math.max(0, head.offset - c.back) };
}

/** Plays the steps; true when the hub may still be behind the broker (a lost delivery it has not noticed yet). */
async function play(hub: Hub, broker: LossyBroker, steps: Step[], clock: { t: number }, follow: () => Promise<void>): Promise<boolean> {
  let data = 0;
  let behind = false;
  for (const s of steps) {
    if (s.kind === 'wait') clock.t += s.ms;
    else if (s.kind === 'follow') await follow();
    else {
      broker.dropLive = s.kind === 'lose';
      for (let i = 0; i < s.n; i++) await hub.publish(C, data++);
      broker.dropLive = false;
      behind = s.kind === 'lose';
    }
    // A lost delivery is noticed at the next live one and filled from history: let that finish.
    await turn();
  }
  return behind;
}

describe('the long-poll fast path', () => {
  it('Hub.catchUp and Hub.subscribeNow answer exactly as subscribe() and the broker do', async () => {
    let answeredFast = 0;
    let joinedNow = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async ({ historySize, recentSize, steps, cursors }) => {
        const clock = { t: T0 };
        const now = () => clock.t;
        const { broker, hub } = setup(historySize, { now, historySize, historyTtlMs: TTL, recentSize, lingerMs: 0 });
        const { make } = recorder(hub);
        const keeper = make();
        let following = false;
        const follow = async () => {
          if (following) return;
          following = true;
          await hub.subscribe(C, keeper);
        };
        const behind = await play(hub, broker, steps, clock, follow);
        const head = await broker.position(C);
        for (const c of cursors) {
          const since = pick(c, head, clock.t);
          const fast = hub.catchUp(C, since);
          const viaBroker = await brokerStart(broker, since);
          // The slow path on this node: subscribe, and take what it delivers before it resolves.
          const slow = make();
          await hub.subscribe(C, slow, since);
          if (fast) {
            answeredFast += 1;
            const got = make();
            hub.deliverStart(got, fast, since !== undefined);
            expect(got.results).toEqual(slow.results);
            expect(got.pubs).toEqual(slow.pubs);
            expect(got.frames).toEqual(slow.frames);
            expect(slow.lost).toEqual([]);
            // A node answers from what reached it: until a lost delivery is noticed, only the broker knows it.
            if (!behind) {
              expect(sameResult(fast.result)).toEqual(sameResult(viaBroker.result));
              expect(fast.backlog).toEqual(viaBroker.backlog);
            }
          }
          const joined = make();
          const result = hub.subscribeNow(C, joined, since);
          if (result) {
            joinedNow += 1;
            // Only at the head: nothing to catch up on, as subscribe() found.
            expect(slow.pubs).toEqual([]);
            expect(joined.results).toEqual(slow.results);
            expect(result).toEqual(slow.results[0]);
            // Both live from here on: the next publication (and any lost one before it) reaches both alike.
            const next = await hub.publish(C, 'next');
            await turn();
            expect(joined.pubs).toEqual(slow.pubs);
            expect(joined.lost).toEqual(slow.lost);
            // Unless the lost ones are gone from history too: then both are told to recover.
            if (joined.lost.length === 0) expect(joined.pubs.map((p: Publication) => p.offset).at(-1)).toBe(next.offset);
            hub.unsubscribe(C, joined);
          }
          hub.unsubscribe(C, slow);
        }
        if (following) hub.unsubscribe(C, keeper);
        await hub.stopLingering();
      }),
      { numRuns: Number(process.env['FUZZ_RUNS'] ?? 300) },
    );
    // Properties that hold because the fast paths were never taken would prove nothing.
    expect(answeredFast).toBeGreaterThan(100);
    expect(joinedNow).toBeGreaterThan(30);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('a catch-up keeps a lingering channel followed as long as a subscribe and unsubscribe would', async () => {
    vi.useFakeTimers({ now: T0 });
    const lingering = async (use: (hub: Hub, at: StreamPosition) => Promise<void>) => {
      const { broker, hub, make } = setup(100, { now: () => Date.now(), lingerMs: 1000 });
      const keeper = make();
      await hub.subscribe(C, keeper);
      const at = await hub.publish(C, 'a');
      await hub.publish(C, 'b');
      hub.unsubscribe(C, keeper);
      await vi.advanceTimersByTimeAsync(800);
      await use(hub, at);
      const followed: number[] = [];
      for (const step of [500, 400, 200]) {
        await vi.advanceTimersByTimeAsync(step);
        followed.push(hub.followedCount);
      }
      expect(broker.unsubscribeCalls).toEqual([C]);
      return followed;
    };
    const slow = await lingering(async (hub, at) => {
      const poll = recorder(hub).make();
      await hub.subscribe(C, poll, at);
      hub.unsubscribe(C, poll);
    });
    const fast = await lingering(async (hub, at) => void expect(hub.catchUp(C, at)?.backlog).toHaveLength(1));
    // Followed until 1,000 ms after the poll at 800 ms: still at 1,300 and 1,700, gone at 1,900.
    expect(slow).toEqual([1, 1, 0]);
    expect(fast).toEqual(slow);
  });
});
