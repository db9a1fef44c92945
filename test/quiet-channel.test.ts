import { jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type StreamPosition, formatCursor } from '../contract/index.js';
import { MemoryBroker } from '../server/broker/memory.js';
import { NatsBroker } from '../server/broker/nats/broker.js';
import { subjectSpace } from '../server/broker/nats/subject.js';
import { connectBackbone } from '../server/backbone.js';
import { loadConfig } from '../server/config.js';
import { memoryLogger } from '../server/logger.js';
import { NatsServer } from './support/nats-server.js';
import { type RawSession, openSession, pollOnce } from './support/raw-clients.js';
import { type TestServer, startServer } from './support/server.js';

// Issue #6: a channel quiet longer than the history TTL kept nothing, so a client that had missed
// nothing reconnected to a new epoch and was told recovered: false. Through real servers, on both brokers.

const WAIT = { timeout: 20_000, interval: 100 };

/** Reconnects from `since` on every transport of `srv` and returns what each was told. */
async function recoverEverywhere(srv: TestServer, channel: string, since: StreamPosition) {
  const told: Array<{ transport: string; recovered: boolean; position: StreamPosition; publications: number }> = [];
  for (const transport of ['websocket', 'sse'] as const) {
    const s = await openSession(transport, srv.url, [channel], [since]);
    const r = s.results[0]!;
    told.push({ transport, recovered: r.recovered, position: { epoch: r.epoch, offset: r.offset }, publications: s.publications.length });
    await s.close();
  }
  // A long-poll that recovered with nothing new answers at its timeout (1 s).
  const poll = await pollOnce(srv.url, [channel], formatCursor([since]), undefined, 1);
  const r = poll.subscriptions[0]!;
  told.push({ transport: 'poll', recovered: r.recovered, position: { epoch: r.epoch, offset: r.offset }, publications: poll.publications.length });
  return told;
}

function allRecovered(position: StreamPosition) {
  return ['websocket', 'sse', 'poll'].map((transport) => ({ transport, recovered: true, position, publications: 0 }));
}

describe('a channel quiet longer than the history TTL, memory broker', () => {
  it('lets a client that missed nothing recover on every transport, and tells one that missed an expired publication', async () => {
    await using srv = await startServer({ HUBBUB_HISTORY_TTL: '1' });
    const broker = srv.app.broker;
    if (!(broker instanceof MemoryBroker)) throw new Error('expected the embedded memory broker');
    const ch = 'quiet:mem';
    const first = await openSession('websocket', srv.url, [ch]);
    for (let i = 1; i <= 3; i++) await srv.publish(ch, i);
    await vi.waitFor(() => expect(first.publications).toHaveLength(3));
    const last = first.position(ch)!;
    await first.close();
    // The hub stops following the channel; its publications expire; the broker keeps only its position.
    await vi.waitFor(() => {
      broker.sweep();
      expect([srv.app.hub.followedCount, broker.streamCount]).toEqual([0, 0]);
    }, WAIT);

    expect(await recoverEverywhere(srv, ch, last)).toEqual(allRecovered(last));
    const behind = await openSession('websocket', srv.url, [ch], [{ epoch: last.epoch, offset: 2 }]);
    expect(behind.results[0]).toMatchObject({ ...last, recovered: false });
    expect(await srv.publish(ch, 4)).toMatchObject({ epoch: last.epoch, offset: 4 });
    await vi.waitFor(() => expect(behind.publications.map((p) => `${p.epoch}:${p.offset}`)).toEqual([`${last.epoch}:4`]));
    await behind.close();
  });

  it('answers like the broker while the hub still follows the channel (its recent window)', async () => {
    await using srv = await startServer({ HUBBUB_HISTORY_TTL: '1' });
    const ch = 'quiet:followed';
    const stay = await openSession('websocket', srv.url, [ch]);
    for (let i = 1; i <= 3; i++) await srv.publish(ch, i);
    await vi.waitFor(() => expect(stay.publications).toHaveLength(3));
    const last = stay.position(ch)!;
    await vi.waitFor(async () => expect((await srv.app.broker.history(ch)).publications).toEqual([]), WAIT);

    expect(await recoverEverywhere(srv, ch, last)).toEqual(allRecovered(last));
    const behind = await openSession('sse', srv.url, [ch], [{ epoch: last.epoch, offset: 2 }]);
    expect(behind.results[0]).toMatchObject({ ...last, recovered: false });
    await srv.publish(ch, 4);
    await vi.waitFor(() => expect(stay.publications.map((p) => p.offset)).toEqual([1, 2, 3, 4]));
    expect(new Set(stay.publications.map((p) => p.epoch))).toEqual(new Set([last.epoch]));
    expect(stay.disconnects).toEqual([]);
    await Promise.all([stay.close(), behind.close()]);
  });

  it('forgets the position after --history-meta-ttl', async () => {
    await using srv = await startServer({ HUBBUB_HISTORY_TTL: '1', HUBBUB_HISTORY_META_TTL: '4' });
    const broker = srv.app.broker;
    if (!(broker instanceof MemoryBroker)) throw new Error('expected the embedded memory broker');
    const last = await srv.publish('quiet:meta', 1);
    await vi.waitFor(() => {
      broker.sweep();
      expect(broker.quietCount).toBe(1);
    }, WAIT);
    await vi.waitFor(async () => {
      broker.sweep();
      expect(await broker.position('quiet:meta')).not.toMatchObject({ epoch: last.epoch });
    }, WAIT);
    expect((await broker.position('quiet:meta')).offset).toBe(0);
  });
});

describe('a channel quiet longer than the history TTL, two nodes on NATS', () => {
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

  it('keeps the position on every node: recovered on every transport, refused from an expired offset, offsets go on', async () => {
    // Claim window and seal grace as short as the history TTL, so JetStream really drops the publications.
    const limits = { servers: nats.url, prefix: 'quiet', historySize: 10, historyTtlMs: 1_000, claimWindowMs: 1_000, sealGraceMs: 1_500 };
    const [brokerA, brokerB] = await Promise.all([NatsBroker.connect(limits), NatsBroker.connect(limits)]);
    await using a = await startServer({ HUBBUB_HISTORY_TTL: '1' }, { broker: brokerA });
    await using b = await startServer({ HUBBUB_HISTORY_TTL: '1' }, { broker: brokerB });
    const ch = 'quiet:nats';
    // A subscriber that stays on node a: its hub keeps following the channel through the quiet spell.
    const stay = await openSession('websocket', a.url, [ch]);
    for (let i = 1; i <= 3; i++) await a.publish(ch, i);
    await vi.waitFor(() => expect(stay.publications).toHaveLength(3));
    const last = stay.position(ch)!;
    const jsm = await jetstreamManager(admin);
    await vi.waitFor(async () => {
      expect(await jsm.streams.getMessage('quiet_channels', { last_by_subj: subjectSpace('quiet').history(ch) })).toBeNull();
    }, WAIT);

    expect(await recoverEverywhere(b, ch, last)).toEqual(allRecovered(last));
    expect(await recoverEverywhere(a, ch, last)).toEqual(allRecovered(last));
    const behind: RawSession[] = [];
    for (const srv of [a, b]) {
      const s = await openSession('websocket', srv.url, [ch], [{ epoch: last.epoch, offset: 2 }]);
      expect(s.results[0]).toMatchObject({ ...last, recovered: false });
      behind.push(s);
    }
    expect(await b.publish(ch, 4)).toMatchObject({ epoch: last.epoch, offset: 4 });
    await vi.waitFor(() => expect(stay.publications.map((p) => p.offset)).toEqual([1, 2, 3, 4]));
    expect(new Set(stay.publications.map((p) => p.epoch))).toEqual(new Set([last.epoch]));
    for (const s of behind) await vi.waitFor(() => expect(s.publications.map((p) => p.offset)).toEqual([4]));
    expect([...stay.disconnects, ...behind.flatMap((s) => s.disconnects)]).toEqual([]);
    await Promise.all([stay.close(), ...behind.map((s) => s.close())]);
  });

  it('passes --history-meta-ttl to the meta stream of a NATS backbone', async () => {
    const config = loadConfig({
      env: { HUBBUB_API_KEY: 'x'.repeat(16), HUBBUB_NATS_URL: nats.url, HUBBUB_NATS_PREFIX: 'quietcfg', HUBBUB_HISTORY_META_TTL: '86400' },
    });
    const { broker } = await connectBackbone(config, memoryLogger());
    try {
      const info = await (await jetstreamManager(admin)).streams.info('quietcfg_meta');
      expect(info.config.max_age).toBe(86_400 * 1e9);
    } finally {
      await broker?.close();
    }
  });
});
