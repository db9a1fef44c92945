import { jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EMPTY_EPOCH } from '../server/broker/broker.js';
import { MemoryBroker } from '../server/broker/memory.js';
import { NatsBroker } from '../server/broker/nats.js';
import { subjectSpace } from '../server/broker/subject.js';
import { NatsServer } from './support/nats-server.js';
import { type RawSession, TRANSPORT_NAMES, type TransportName, openSession, pollOnce } from './support/raw-clients.js';
import { type TestServer, startServer } from './support/server.js';

// Issue #7: anonymous reads of a channel nobody published to must not write to the broker. Such a
// channel is at 0:0; its first publication starts a real epoch at offset 1, and clients at 0:0 are
// carried into it (live, or from the hub's recent window) or told recovered: false, never left with a gap.

const EMPTY = `${EMPTY_EPOCH}:0`;
const WAIT = { timeout: 20_000, interval: 50 };
/** One test address sends the whole flood: the per-address rate limit is not what these tests are about. */
const FLOOD_ENV = { HUBBUB_LIMIT_CONNECTION_RATE: '100000' };
const positions = (pubs: Array<{ epoch: string; offset: number }>) => pubs.map((p) => `${p.epoch}:${p.offset}`);

/** `count` cursorless long-polls of made-up channels, `parallel` at a time: each answers at once with 0:0. */
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
  it('subscribes at 0:0 and receives the first publications live at offsets 1, 2 of a real epoch', async () => {
    await using srv = await startServer();
    const s = await openSession(transport, srv.url, ['fresh']);
    sessions.push(s);
    expect(s.results).toEqual([{ channel: 'fresh', epoch: EMPTY_EPOCH, offset: 0, recovered: false }]);
    const first = await srv.publish('fresh', 'one');
    expect(first).toMatchObject({ offset: 1 });
    expect(first.epoch).not.toBe(EMPTY_EPOCH);
    await srv.publish('fresh', 'two');
    await vi.waitFor(() => expect(positions(s.publications)).toEqual([`${first.epoch}:1`, `${first.epoch}:2`]), WAIT);
    expect(s.results).toHaveLength(1);
    expect(s.disconnects).toEqual([]);
  });
});

describe('the history API of a channel nobody published to', () => {
  it('answers 0:0 with no publication, recovers since 0:0, and refuses 0:0 once the channel has an epoch', async () => {
    await using srv = await startServer();
    const page = { publications: [], epoch: EMPTY_EPOCH, offset: 0 };
    for (const query of ['', `?since=${EMPTY}`]) {
      const res = await srv.api(`/api/channels/fresh/history${query}`);
      expect([res.status, await res.json()]).toEqual([200, page]);
    }
    await srv.publish('fresh', 1);
    expect((await srv.api(`/api/channels/fresh/history?since=${EMPTY}`)).status).toBe(409);
  });
});

describe('a long-poll at cursor 0:0, memory broker', () => {
  // Regression: the poll that got 0:0 came back a moment after the first publication and was told recovered: false.
  it('gets the first publication, recovered, when it comes back while the hub lingers on the channel', async () => {
    await using srv = await startServer();
    const empty = await pollOnce(srv.url, ['lobby'], undefined);
    expect(empty.cursor).toBe(EMPTY);
    const first = await srv.publish('lobby', 'hello');
    const back = await pollOnce(srv.url, ['lobby'], empty.cursor);
    expect(back.subscriptions).toEqual([{ channel: 'lobby', epoch: EMPTY_EPOCH, offset: 0, recovered: true }]);
    expect(positions(back.publications)).toEqual([`${first.epoch}:1`]);
    expect(back.cursor).toBe(`${first.epoch}:1`);
  });

  it('is told recovered: false when it comes back after the hub stopped following the channel', async () => {
    await using srv = await startServer();
    const empty = await pollOnce(srv.url, ['lobby'], undefined);
    const first = await srv.publish('lobby', 'hello');
    await vi.waitFor(() => expect(srv.app.hub.followedCount).toBe(0), WAIT);
    const back = await pollOnce(srv.url, ['lobby'], empty.cursor);
    expect(back.subscriptions).toEqual([{ channel: 'lobby', epoch: first.epoch, offset: 1, recovered: false }]);
    expect(back.publications).toEqual([]);
  });

  // Regression: each poll made the memory broker create a stream, which its sweep kept as a position.
  it('writes nothing to the broker for 2,000 polls of made-up channels', async () => {
    await using srv = await startServer(FLOOD_ENV);
    const broker = srv.app.broker;
    if (!(broker instanceof MemoryBroker)) throw new Error('expected the embedded memory broker');
    const cursors = await anonymousPolls(srv.url, 2_000);
    await srv.app.hub.settle();
    broker.sweep();
    expect({ streams: broker.streamCount, keptPositions: broker.quietCount }).toEqual({ streams: 0, keptPositions: 0 });
    expect(new Set(cursors)).toEqual(new Set([EMPTY]));
  });
});

describe('a long-poll at cursor 0:0, two nodes on NATS', () => {
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

  it('is recovered on the node that saw the channel empty, and told recovered: false on the other', async () => {
    const [a, b] = await twoNodes('emptypoll');
    await using _a = a;
    await using _b = b;
    const empty = await pollOnce(a.url, ['lobby'], undefined);
    expect(empty.cursor).toBe(EMPTY);
    const first = await b.publish('lobby', 'hello');
    const elsewhere = await pollOnce(b.url, ['lobby'], empty.cursor);
    expect(elsewhere.subscriptions).toEqual([{ channel: 'lobby', epoch: first.epoch, offset: 1, recovered: false }]);
    expect(elsewhere.publications).toEqual([]);
    // Node a followed the channel from 0:0 and took offset 1 live: its window answers.
    await vi.waitFor(async () => {
      const same = await pollOnce(a.url, ['lobby'], empty.cursor);
      expect(same.subscriptions).toEqual([{ channel: 'lobby', epoch: EMPTY_EPOCH, offset: 0, recovered: true }]);
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
    await Promise.all([a.app.hub.settle(), b.app.hub.settle()]);
    expect(await written()).toEqual(before);
    expect(new Set(cursors)).toEqual(new Set([EMPTY]));
  });
});
