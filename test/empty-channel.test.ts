import { jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StreamPosition } from '../contract/index.js';
import { emptyEpoch, isEmptyEpoch } from '../contract/empty-epoch.js';
import { MemoryBroker } from '../server/broker/memory.js';
import { NatsBroker } from '../server/broker/nats/broker.js';
import { subjectSpace } from '../server/broker/nats/subject.js';
import { NatsServer } from './support/nats-server.js';
import { type RawSession, TRANSPORT_NAMES, type TransportName, openSession, pollOnce } from './support/raw-clients.js';
import { type TestServer, startServer } from './support/server.js';

// Issue #7: anonymous reads of a channel nobody published to must not write to the broker. Such a
// channel is at an empty position, `0<T>:0` (T: when it was seen empty); its first publication starts
// a real epoch at offset 1, and clients at the empty position are carried into it (live, from a
// hub's recent window, or from history on any node) or told recovered: false, never left with a gap.

const isEmpty = (p: StreamPosition) => isEmptyEpoch(p.epoch) && p.offset === 0;
/** A cursor of one empty position. */
const EMPTY_CURSOR = /^0[0-9a-z]{9}:0$/;
const WAIT = { timeout: 20_000, interval: 50 };
/** One test address sends the whole flood: the per-address rate limit is not what these tests are about. */
const FLOOD_ENV = { HUBBUB_LIMIT_CONNECTION_RATE: '100000' };
const positions = (pubs: Array<{ epoch: string; offset: number }>) => pubs.map((p) => `${p.epoch}:${p.offset}`);

/** `count` cursorless long-polls of made-up channels, `parallel` at a time: each answers at once with an empty position. */
async function anonymousPolls(url: string, count: number, parallel = 20): Promise<string[]> {
  const cursors: string[] = [];
  for (let i = 0; i < count; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - i) }, (_, j) => `made-up:${i + j}-${Date.now().toString(36)}`);
    for (const r of await Promise.all(batch.map((ch) => pollOnce(url, [ch], undefined)))) cursors.push(r.cursor);
  }
  return cursors;
}



describe.each(TRANSPORT_NAMES)('a channel nobody published to, over %s', (transport) => {
  const sessions: RawSession[] = [];
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
  });

  // Regression: the first publication's epoch differed from the 0:0 the subscriber got, and the hub dropped it.
  it('subscribes at an empty position and receives the first publications live at offsets 1, 2 of a real epoch', async () => {
    await using srv = await startServer();
    const s = await openSession(transport, srv.url, ['fresh']);
    sessions.push(s);
    expect(s.results).toEqual([{ channel: 'fresh', epoch: s.results[0]!.epoch, offset: 0, recovered: false }]);
    expect(isEmpty(s.results[0]!)).toBe(true);
    const first = await srv.publish('fresh', 'one');
    expect(first).toMatchObject({ offset: 1 });
    expect(isEmptyEpoch(first.epoch)).toBe(false);
    await srv.publish('fresh', 'two');
    await vi.waitFor(() => expect(positions(s.publications)).toEqual([`${first.epoch}:1`, `${first.epoch}:2`]), WAIT);
    expect(s.results).toHaveLength(1);
    expect(s.disconnects).toEqual([]);
  });
});

describe('the history API of a channel nobody published to', () => {
  it('answers an empty position with no publication, recovers since it, and from offset 1 once the channel has an epoch', async () => {
    await using srv = await startServer();
    const read = async (query: string) => {
      const res = await srv.api(`/api/channels/fresh/history${query}`);
      return { status: res.status, body: (await res.json()) as { publications: Array<{ offset: number }>; epoch: string; offset: number } };
    };
    const first = await read('');
    expect([first.status, first.body.publications, isEmpty(first.body)]).toEqual([200, [], true]);
    const since = `${first.body.epoch}:0`;
    const again = await read(`?since=${since}`);
    expect([again.status, again.body.publications, isEmpty(again.body)]).toEqual([200, [], true]);
    const pub = await srv.publish('fresh', 1);
    const after = await read(`?since=${since}`);
    expect([after.status, after.body.epoch, after.body.publications.map((p) => p.offset)]).toEqual([200, pub.epoch, [1]]);
    // The untimed `0:0` of older servers, and one seen after offset 1 was stored, are refused.
    expect((await srv.api('/api/channels/fresh/history?since=0:0')).status).toBe(409);
    expect((await srv.api(`/api/channels/fresh/history?since=${emptyEpoch(Date.now() + 60_000)}:0`)).status).toBe(409);
  });
});

describe('a long-poll at an empty cursor, memory broker', () => {
  // Regression: the poll that got 0:0 came back a moment after the first publication and was told recovered: false.
  it('gets the first publication, recovered, when it comes back while the hub lingers on the channel', async () => {
    await using srv = await startServer();
    const empty = await pollOnce(srv.url, ['lobby'], undefined);
    expect(empty.cursor).toMatch(EMPTY_CURSOR);
    const first = await srv.publish('lobby', 'hello');
    const back = await pollOnce(srv.url, ['lobby'], empty.cursor);
    expect(back.subscriptions).toEqual([{ channel: 'lobby', epoch: empty.subscriptions[0]!.epoch, offset: 0, recovered: true }]);
    expect(positions(back.publications)).toEqual([`${first.epoch}:1`]);
    expect(back.cursor).toBe(`${first.epoch}:1`);
  });

  // Regression: once the hub stopped following the channel, the broker refused every empty position.
  it('gets the first publication, recovered, when it comes back after the hub stopped following the channel', async () => {
    await using srv = await startServer();
    const empty = await pollOnce(srv.url, ['lobby'], undefined);
    const first = await srv.publish('lobby', 'hello');
    await vi.waitFor(() => expect(srv.app.hub.followedCount).toBe(0), WAIT);
    const back = await pollOnce(srv.url, ['lobby'], empty.cursor);
    expect(back.subscriptions).toEqual([{ channel: 'lobby', epoch: empty.subscriptions[0]!.epoch, offset: 0, recovered: true }]);
    expect(positions(back.publications)).toEqual([`${first.epoch}:1`]);
  });

  it('is told recovered: false when its empty cursor is older than the history meta TTL', async () => {
    await using srv = await startServer();
    const first = await srv.publish('lobby', 'hello');
    const old = `${emptyEpoch(Date.now() - 31 * 24 * 3600 * 1000)}:0`;
    const back = await pollOnce(srv.url, ['lobby'], old);
    expect(back.subscriptions).toEqual([{ channel: 'lobby', epoch: first.epoch, offset: 1, recovered: false }]);
    expect(back.publications).toEqual([]);
  });

  // Regression: each poll made the memory broker create a stream, which its sweep kept as a position.
  it('writes nothing to the broker for 2,000 polls of made-up channels', async () => {
    await using srv = await startServer(FLOOD_ENV);
    const broker = srv.app.broker;
    if (!(broker instanceof MemoryBroker)) throw new Error('expected the embedded memory broker');
    const cursors = await anonymousPolls(srv.url, 2_000);
    await srv.app.hub.stopLingering();
    broker.sweep();
    expect({ streams: broker.streamCount, keptPositions: broker.quietCount }).toEqual({ streams: 0, keptPositions: 0 });
    expect(cursors.filter((c) => !EMPTY_CURSOR.test(c))).toEqual([]);
  });
});

describe('a long-poll at an empty cursor, two nodes on NATS', () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  beforeAll(async () => {
    nats = await NatsServer.start();
    admin = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await admin?.close();
    await nats?.close();
  });

  async function twoNodes(prefix: string): Promise<[TestServer, TestServer]> {
    const o = { servers: nats.url, prefix, historySize: 100, historyTtlMs: 300_000 };
    const [brokerA, brokerB] = await Promise.all([NatsBroker.connect(o), NatsBroker.connect(o)]);
    return Promise.all([startServer(FLOOD_ENV, { broker: brokerA }), startServer(FLOOD_ENV, { broker: brokerB })]);
  }

  // Regression: the node that had not seen the channel empty told the poll recovered: false, and it lost the first publication.
  it('is recovered with the first publication on the node that saw the channel empty and on the other', async () => {
    const [a, b] = await twoNodes('emptypoll');
    await using _a = a;
    await using _b = b;
    const empty = await pollOnce(a.url, ['lobby'], undefined);
    expect(empty.cursor).toMatch(EMPTY_CURSOR);
    const seen = empty.subscriptions[0]!.epoch;
    const first = await b.publish('lobby', 'hello');
    const elsewhere = await pollOnce(b.url, ['lobby'], empty.cursor);
    expect(elsewhere.subscriptions).toEqual([{ channel: 'lobby', epoch: seen, offset: 0, recovered: true }]);
    expect(positions(elsewhere.publications)).toEqual([`${first.epoch}:1`]);
    // Node a followed the channel from its empty position and took offset 1 live: its window answers.
    await vi.waitFor(async () => {
      const same = await pollOnce(a.url, ['lobby'], empty.cursor);
      expect(same.subscriptions).toEqual([{ channel: 'lobby', epoch: seen, offset: 0, recovered: true }]);
      expect(positions(same.publications)).toEqual([`${first.epoch}:1`]);
    }, WAIT);
  });

  // Regression: each poll of a made-up channel wrote an epoch record, kept 30 days and counted against the meta stream's bound.
  it('writes nothing to JetStream for 2,000 polls of made-up channels', async () => {
    const [a, b] = await twoNodes('emptyflood');
    await using _a = a;
    await using _b = b;
    const jsm = await jetstreamManager(admin);
    const space = subjectSpace('emptyflood');
    const written = async () => {
      const out: Record<string, number> = {};
      for (const stream of [space.stream, space.metaStream, space.idempotencyStream]) out[stream] = (await jsm.streams.info(stream)).state.last_seq;
      return out;
    };
    const before = await written();
    const cursors = [...(await anonymousPolls(a.url, 1_000)), ...(await anonymousPolls(b.url, 1_000))];
    await Promise.all([a.app.hub.stopLingering(), b.app.hub.stopLingering()]);
    expect(await written()).toEqual(before);
    expect(cursors.filter((c) => !EMPTY_CURSOR.test(c))).toEqual([]);
  });
});
