import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ServerFrame } from '../contract/index.js';
import { openNetWs } from './support/net-ws.js';
import { type TestServer, startServer } from './support/server.js';

// Random bursts of commands against a real server while publications flow, checked against a model
// of the connection's channel set: every command gets exactly one reply, of the kind the model says.

const MAX_CHANNELS = 3;
const NAMES = ['a', 'b', 'c', 'd'] as const;

type Command =
  | { kind: 'subscribe'; name: (typeof NAMES)[number]; since: boolean }
  | { kind: 'unsubscribe'; name: (typeof NAMES)[number] }
  | { kind: 'ping' }
  | { kind: 'bad-channel' }
  | { kind: 'bad-id'; raw: string };

const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('subscribe' as const), name: fc.constantFrom(...NAMES), since: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('unsubscribe' as const), name: fc.constantFrom(...NAMES) }), weight: 4 },
  { arbitrary: fc.constant({ kind: 'ping' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'bad-channel' as const }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('bad-id' as const),
      raw: fc.constantFrom(
        '{"id":1.5,"type":"ping"}',
        '{"id":-1,"type":"unsubscribe","channel":"a"}',
        '{"id":0,"type":"ping"}',
        '{"id":9007199254740992,"type":"subscribe","channel":"b"}',
        '{"id":1e308,"type":"ping"}',
        '{"id":1e400,"type":"ping"}',
        'not json',
      ),
    }),
    weight: 1,
  },
);

type Reply = ServerFrame['type'] | `error:${string}`;
const replyOf = (f: ServerFrame): Reply => (f.type === 'error' ? `error:${f.code}` : f.type);

describe('WebSocket commands against a model', () => {
  let srv: TestServer;
  let prefix = '';
  let publishing = true;
  let publisher: Promise<void>;

  beforeAll(async () => {
    srv = await startServer({ HUBBUB_MAX_CHANNELS: String(MAX_CHANNELS) });
    publisher = (async () => {
      for (let i = 0; publishing; i++) {
        await srv.app.hub.publish(`${prefix}${NAMES[i % NAMES.length]}`, i);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    })();
  });
  afterAll(async () => {
    publishing = false;
    await publisher;
    await srv.close();
  });

  it('gives every command exactly one reply of the modelled kind, and ends with the modelled channel set', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(command, { minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 5 }), async (bursts) => {
        prefix = `r${++run}-`;
        const peer = await openNetWs(srv.wsUrl);
        const subscribed = new Set<string>();
        let nextId = 1;
        let badIds = 0;
        /** Ids of the well-formed commands: each must get exactly one reply. */
        const sent = new Set<number>();
        try {
          for (const burst of bursts) {
            /** id → the replies the model allows; a subscribe cut short by a later unsubscribe may be cancelled. */
            const expected = new Map<number, Reply[]>();
            /** subscribe id → the unsubscribe id whose reply must come after its `cancelled`. */
            const cancelledBy = new Map<number, number>();
            const pendingSubscribe = new Map<string, number>();
            for (const cmd of burst) {
              const id = nextId++;
              if (cmd.kind !== 'bad-id') sent.add(id);
              if (cmd.kind === 'bad-id') {
                badIds += 1;
                peer.send(cmd.raw);
              } else if (cmd.kind === 'ping') {
                expected.set(id, ['pong']);
                peer.send({ id, type: 'ping' });
              } else if (cmd.kind === 'bad-channel') {
                expected.set(id, ['error:invalid_channel']);
                peer.send({ id, type: 'subscribe', channel: 'not a channel' });
              } else if (cmd.kind === 'subscribe') {
                const channel = prefix + cmd.name;
                if (subscribed.has(channel)) expected.set(id, ['error:already_subscribed']);
                else if (subscribed.size >= MAX_CHANNELS) expected.set(id, ['error:too_many_channels']);
                else {
                  subscribed.add(channel);
                  pendingSubscribe.set(channel, id);
                  expected.set(id, ['subscribed']);
                }
                const since = cmd.since ? { since: { epoch: 'gone', offset: 3 } } : {};
                peer.send({ id, type: 'subscribe', channel, ...since });
              } else {
                const channel = prefix + cmd.name;
                if (!subscribed.delete(channel)) expected.set(id, ['error:not_subscribed']);
                else {
                  expected.set(id, ['unsubscribed']);
                  const sub = pendingSubscribe.get(channel);
                  if (sub !== undefined) {
                    expected.set(sub, ['subscribed', 'error:cancelled']);
                    cancelledBy.set(sub, id);
                    pendingSubscribe.delete(channel);
                  }
                }
                peer.send({ id, type: 'unsubscribe', channel });
              }
            }
            const replies = () => peer.frames.filter((f) => 'id' in f && f.id !== undefined && expected.has(f.id));
            await vi.waitFor(() => expect(replies()).toHaveLength(expected.size), { timeout: 5_000 });
            for (const [id, allowed] of expected) {
              const got = peer.frames.filter((f) => 'id' in f && f.id === id);
              expect(got, `replies to command ${id}`).toHaveLength(1);
              expect(allowed).toContain(replyOf(got[0]!));
              const by = cancelledBy.get(id);
              if (by !== undefined && got[0]!.type === 'error') {
                expect(peer.frames.indexOf(got[0]!)).toBeLessThan(peer.frames.findIndex((f) => 'id' in f && f.id === by));
              }
            }
          }
          // Late duplicates would have arrived by the time a final ping is answered.
          const last = nextId++;
          sent.add(last);
          peer.send({ id: last, type: 'ping' });
          await vi.waitFor(() => expect(peer.frames.some((f) => f.type === 'pong' && f.id === last)).toBe(true));
          const commandReplies = peer.frames.filter((f) => f.type !== 'publication' && f.type !== 'connected');
          const ids = commandReplies.flatMap((f) => ('id' in f && f.id !== undefined ? [f.id] : []));
          expect(ids.sort((x, y) => x - y)).toEqual([...sent].sort((x, y) => x - y));
          const idless = commandReplies.filter((f) => !('id' in f) || f.id === undefined);
          expect(idless.map(replyOf)).toEqual(Array(badIds).fill('error:invalid_frame'));
          expect(peer.invalid).toEqual([]);
          const live = srv.app.hub.channelCounts().filter((c) => c.channel.startsWith(prefix));
          expect(live.map((c) => c.channel).sort()).toEqual([...subscribed].sort());
        } finally {
          peer.destroy();
        }
      }),
      { numRuns: 40 },
    );
  }, 60_000);
});
