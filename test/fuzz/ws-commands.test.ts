// Fuzz: random sequences of subscribe / unsubscribe / ping on one WebSocket, mixed with REST
// publishes and pauses, checked against a model of what the connection should hold. Every command
// gets exactly one reply of the kind the model predicts; publications arrive only inside a
// subscription, in order and without gaps; at the end the hub holds exactly the model's channels.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ServerFrame, StreamPosition } from '../../contract/index.js';
import { type TestServer, startServer } from '../support/server.js';
import { expectServesEveryTransport } from './checks.js';
import { FUZZ_LIMITS, fuzz, fuzzTimeout } from './harness.js';
import { checkServerFrame, connectPeer } from './ws-peer.js';

const POOL = 5;
/** Below the pool size, so too_many_channels is part of the game. */
const MAX_CHANNELS = 3;

type Since = { kind: 'none' } | { kind: 'back'; n: number } | { kind: 'other epoch' };
type Action =
  | { type: 'subscribe'; channel: number; since: Since }
  | { type: 'unsubscribe'; channel: number }
  | { type: 'ping' }
  | { type: 'publish'; channel: number }
  /** Wait for every reply so far, so later commands meet settled subscriptions. */
  | { type: 'settle' };

const channel = fc.nat({ max: POOL - 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('subscribe' as const),
      channel,
      since: fc.oneof(
        { weight: 3, arbitrary: fc.constant({ kind: 'none' } as const) },
        { weight: 2, arbitrary: fc.nat({ max: 3 }).map((n) => ({ kind: 'back', n }) as const) },
        { weight: 1, arbitrary: fc.constant({ kind: 'other epoch' } as const) },
      ),
    }),
  },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('unsubscribe' as const), channel }) },
  { weight: 1, arbitrary: fc.constant({ type: 'ping' } as const) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('publish' as const), channel }) },
  { weight: 2, arbitrary: fc.constant({ type: 'settle' } as const) },
);

interface Expectation {
  what: string;
  accepts(reply: ServerFrame): boolean;
  reply?: ServerFrame;
}

interface Subscription {
  id: number;
  /** Its reply has arrived (a `settle` passed since it was sent). */
  settled: boolean;
}

let runSeq = 0;

describe('fuzz: WebSocket command sequences', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer({ ...FUZZ_LIMITS, HUBBUB_MAX_CHANNELS: String(MAX_CHANNELS), HUBBUB_HISTORY_TTL: String(7 * 24 * 3600) });
  });
  afterAll(() => srv?.close());

  it(
    'every command gets the reply the model predicts; publications only inside subscriptions, in order',
    () =>
      fuzz('ws command sequences', srv, fc.array(action, { maxLength: 25 }), async (actions) => {
        const names = Array.from({ length: POOL }, (_, i) => `wsm${++runSeq}-${i}`);
        const last = new Map<string, StreamPosition>();
        const model = new Map<string, Subscription>();
        const expected = new Map<number, Expectation>();
        const subscribeOf = new Map<number, string>();
        let nextId = 0;
        const peer = await connectPeer(srv.wsUrl);
        let seen = 0;
        const violations: string[] = [];
        const match = () => {
          for (; seen < peer.frames.length; seen++) {
            const f = checkServerFrame(peer.frames[seen]!);
            if (f.type === 'publication') continue;
            const e = 'id' in f && f.id !== undefined ? expected.get(f.id) : undefined;
            if (!e || e.reply) violations.push(`reply to no open command: ${peer.frames[seen]!.raw}`);
            else if (!e.accepts(f)) violations.push(`${e.what} got ${peer.frames[seen]!.raw}`);
            else e.reply = f;
          }
          if (violations.length > 0) throw new Error(violations.join('\n'));
          return [...expected.values()].every((e) => e.reply);
        };
        const send = (frame: Record<string, unknown>, e: Omit<Expectation, 'reply'>) => {
          const id = ++nextId;
          expected.set(id, e);
          peer.send(JSON.stringify({ id, ...frame }), false);
          return id;
        };
        const settle = async () => {
          await peer.until(match, 'the reply to every command');
          expect(peer.closeCode, 'the server closed the connection').toBeUndefined();
          for (const s of model.values()) s.settled = true;
        };
        try {
          for (const a of actions) {
            if (a.type === 'settle') await settle();
            else if (a.type === 'ping') send({ type: 'ping' }, { what: 'ping', accepts: (r) => r.type === 'pong' });
            else if (a.type === 'publish') last.set(names[a.channel]!, await srv.publish(names[a.channel]!, a.channel));
            else if (a.type === 'unsubscribe') {
              const c = names[a.channel]!;
              const sub = model.get(c);
              // A subscribe cut short by this unsubscribe may end either way, but gets one reply.
              if (sub && !sub.settled) expected.get(sub.id)!.accepts = (r) => 'id' in r && r.id === sub.id;
              model.delete(c);
              send(
                { type: 'unsubscribe', channel: c },
                sub
                  ? { what: `unsubscribe ${c}`, accepts: (r) => r.type === 'unsubscribed' && r.channel === c }
                  : { what: `unsubscribe ${c} (not subscribed)`, accepts: (r) => r.type === 'error' && r.code === 'not_subscribed' },
              );
            } else {
              const c = names[a.channel]!;
              const pos = last.get(c);
              let since: StreamPosition | undefined;
              if (a.since.kind === 'other epoch') since = { epoch: 'otherEpoch', offset: 1 };
              else if (a.since.kind === 'back' && pos) since = { epoch: pos.epoch, offset: Math.max(0, pos.offset - a.since.n) };
              const recoverable = since !== undefined && since.epoch === pos?.epoch;
              const what = `subscribe ${c}${since ? ` since ${since.epoch}:${since.offset}` : ''}`;
              const e: Omit<Expectation, 'reply'> = model.has(c)
                ? { what: `${what} (already)`, accepts: (r) => r.type === 'error' && r.code === 'already_subscribed' }
                : model.size >= MAX_CHANNELS
                  ? { what: `${what} (too many)`, accepts: (r) => r.type === 'error' && r.code === 'too_many_channels' }
                  : {
                      what,
                      accepts: (r) =>
                        r.type === 'subscribed' && r.channel === c && r.recovered === recoverable && (!recoverable || r.offset === since!.offset),
                    };
              const fresh = !model.has(c) && model.size < MAX_CHANNELS;
              const id = send({ type: 'subscribe', channel: c, ...(since ? { since } : {}) }, e);
              if (fresh) {
                model.set(c, { id, settled: false });
                subscribeOf.set(id, c);
              }
            }
          }
          await settle();
          // The hub holds exactly the model's subscriptions of this connection.
          const held = srv.app.hub.channelCounts().filter((c) => names.includes(c.channel));
          expect(held.map((c) => c.channel).sort(), 'channels the hub holds').toEqual([...model.keys()].sort());
          // One more publication per channel: each subscribed channel receives everything up to it.
          for (const c of names) last.set(c, await srv.publish(c, 'last'));
          const delivered = () => deliveries(peer.frames.map((f) => f.json as ServerFrame), subscribeOf);
          await peer.until(() => [...model.keys()].every((c) => delivered().get(c)?.cursor === last.get(c)!.offset), 'every publication');
          send({ type: 'ping' }, { what: 'last ping', accepts: (r) => r.type === 'pong' });
          await settle();
          const result = delivered();
          expect([...result.values()].flatMap((d) => d.violations), 'publications out of place').toEqual([]);
          // Closing the connection releases all of its subscriptions.
          await peer.close();
          await vi.waitFor(() => expect(srv.app.hub.channelCounts().filter((c) => names.includes(c.channel))).toEqual([]));
          return `${model.size} subscribed at the end`;
        } finally {
          await peer.close();
        }
      }),
    fuzzTimeout(40),
  );

  it('still serves a normal client on every transport afterwards', () => expectServesEveryTransport(srv));
});

/**
 * Replays the frame stream per channel: a subscription opens at its `subscribed` reply and closes
 * at `unsubscribed`; each publication must fall inside one and follow the previous offset by one.
 */
function deliveries(frames: ServerFrame[], subscribeOf: Map<number, string>) {
  const out = new Map<string, { cursor: number | undefined; violations: string[] }>();
  const of = (c: string) => out.get(c) ?? out.set(c, { cursor: undefined, violations: [] }).get(c)!;
  for (const f of frames) {
    if (f.type === 'subscribed' && f.id !== undefined && subscribeOf.get(f.id) === f.channel) of(f.channel).cursor = f.offset;
    else if (f.type === 'unsubscribed') of(f.channel).cursor = undefined;
    else if (f.type === 'publication') {
      const d = of(f.channel);
      if (d.cursor === undefined) d.violations.push(`publication ${f.channel}:${f.offset} outside a subscription`);
      else if (f.offset !== d.cursor + 1) d.violations.push(`publication ${f.channel}:${f.offset} after ${d.cursor}`);
      d.cursor = f.offset;
    }
  }
  return out;
}
