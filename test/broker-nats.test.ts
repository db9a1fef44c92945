import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Publication } from '../contract/index.js';
import { BrokerUnavailableError, UnrecoverablePositionError } from '../server/broker/broker.js';
import { NatsBroker } from '../server/broker/nats/broker.js';
import { NatsDecodeError } from '../server/broker/nats/codec.js';
import { ChannelSequencer } from '../server/broker/nats/sequencer.js';
import { channelToken, subjectSpace } from '../server/broker/nats/subject.js';
import { describeBroker, freshChannel } from './support/broker-conformance.js';
import { type NatsCluster, NatsServer, startCluster } from './support/nats-server.js';
import { admin, collector, logger, logs, node, range, server, storedOn, useNatsServer } from './support/nats-nodes.js';

useNatsServer();

describeBroker(
  'nats',
  async (o) => {
    // Short TTLs (the quiet-channel cases) get a short claim window and seal grace, so JetStream really drops
    // them; the grace stays 3 s at least, or a loaded CI machine's sealer misses it (safe, new epoch, but not the case tested).
    const short = { claimWindowMs: Math.min(30_000, o.historyTtlMs), sealGraceMs: Math.min(30_000, Math.max(3_000, o.historyTtlMs)) };
    const options = { servers: server.url, prefix: 'conf', logger, ...short, ...o };
    const broker = await NatsBroker.connect({ ...options, name: 'node-a' });
    const peer = await NatsBroker.connect({ ...options, name: 'node-b' });
    const space = subjectSpace('conf');
    const quiet = async (channel: string, until: 'history' | 'meta') => {
      const subjects = until === 'history' ? [space.history(channel)] : [space.history(channel), space.epoch(channel)];
      await vi.waitFor(
        async () => {
          for (const subject of subjects) expect(await storedOn(subject), subject).toBeNull();
        },
        { timeout: 30_000, interval: 100 },
      );
    };
    // Last sequences only grow, with every write: expiring messages cannot hide one.
    const writes = async () => {
      const jsm = await jetstreamManager(admin);
      let sum = 0;
      for (const stream of [space.stream, space.metaStream, space.idempotencyStream]) sum += (await jsm.streams.info(stream)).state.last_seq;
      return sum;
    };
    return { broker, peer, quiet, writes, close: () => Promise.all([broker.close(), peer.close()]).then(() => undefined) };
  },
  { multiNode: true },
);

describe('NatsBroker on one nats-server', () => {
  const limits = { historySize: 500, historyTtlMs: 60_000 };

  it('gives concurrent publishes from two nodes offsets 1..N, no duplicate, no hole', async () => {
    const [a, b, c] = await Promise.all([node('race', limits), node('race', limits), node('race', limits)]);
    const seen = collector(c);
    const ch = freshChannel('race');
    await c.subscribe(ch);
    const pubs = await Promise.all(range(200).map((i) => (i % 2 ? a : b).publish(ch, i)));
    expect(pubs.map((p) => p.offset).sort((x, y) => x - y)).toEqual(range(200));
    expect(new Set(pubs.map((p) => p.epoch)).size).toBe(1);
    const page = await a.history(ch);
    expect(page.publications.map((p) => p.offset)).toEqual(range(200));
    // Each stored publication carries the data of the publish call that got its offset.
    const byOffset = new Map(pubs.map((p) => [p.offset, p.data]));
    expect(page.publications.every((p) => byOffset.get(p.offset) === p.data)).toBe(true);
    await vi.waitFor(() => expect(seen.pubs).toHaveLength(200));
    expect(seen.pubs.map((p) => p.offset)).toEqual(range(200));
    expect(seen.gaps).toEqual([]);
  });

  // Regression: the loser of two creations of one stream got "subjects overlap" (10065) and failed to connect.
  it('lets nodes of a new deployment connect at the same moment', async () => {
    for (let round = 0; round < 5; round++) {
      const prefix = `fresh${round}x${Date.now().toString(36)}`;
      const started = await Promise.all(range(6).map(() => node(prefix, limits)));
      const ch = freshChannel('fresh');
      expect((await Promise.all(started.map((b) => b.publish(ch, 'x')))).map((p) => p.offset).sort((x, y) => x - y)).toEqual(range(6));
    }
  });

  it('keeps awkward channel names apart, each on one subject token', async () => {
    const [a, b] = await Promise.all([node('awk', limits), node('awk', limits)]);
    const seen = collector(b);
    const id = `aw${Date.now().toString(36)}`;
    const names = [`${id}.a`, `${id}=2Ea`, `${id}_a`, `${id}@a`, `${id}.a.b`, `ns:${id}.a`, `ns:${id}=3A`, `${id}-a`];
    for (const ch of names) await b.subscribe(ch);
    for (const ch of names) expect((await a.publish(ch, ch)).offset).toBe(1);
    await vi.waitFor(() => expect(seen.pubs).toHaveLength(names.length));
    expect(seen.pubs.every((p) => p.data === p.channel && p.offset === 1)).toBe(true);
    const jsm = await jetstreamManager(admin);
    for (const ch of names) {
      expect((await a.history(ch)).publications.map((p) => p.data)).toEqual([ch]);
      const stored = await jsm.streams.getMessage('awk_channels', { last_by_subj: `awk.ch.${channelToken(ch)}` });
      expect(stored?.subject.split('.')).toHaveLength(3);
    }
  });

  it('never delivers a publish that JetStream refused', async () => {
    const [a, b] = await Promise.all([node('refuse', limits), node('refuse', limits)]);
    const seen = collector(b);
    const ch = freshChannel('refuse');
    await b.subscribe(ch);
    const first = await a.publish(ch, 'stored');
    // What the losing side of an offset race sends: a valid-looking publication with a stale expected sequence.
    const h = headers();
    h.set('Hubbub-Epoch', first.epoch);
    h.set('Hubbub-Offset', '2');
    h.set('Hubbub-Time', String(Date.now()));
    h.set('Hubbub-Prev-Seq', '0');
    await expect(
      jetstream(admin).publish(subjectSpace('refuse').history(ch), JSON.stringify({ d: 'refused' }), {
        headers: h,
        expect: { lastSubjectSequence: 0 },
      }),
    ).rejects.toThrow(/wrong last sequence/);
    await a.publish(ch, 'stored too');
    await vi.waitFor(() => expect(seen.pubs.map((p) => p.data)).toEqual(['stored', 'stored too']));
    expect(seen.pubs.map((p) => p.offset)).toEqual([1, 2]);
  });

  it('counts and logs messages it cannot decode, reports the live gap and refuses to read past a stored one', async () => {
    const b = await node('garbage', limits);
    const seen = collector(b);
    const ch = freshChannel('garbage');
    await b.subscribe(ch);
    admin.publish(subjectSpace('garbage').live(ch), 'not a publication');
    await vi.waitFor(() => expect(b.stats.decodeErrors).toBe(1));
    expect(seen.gaps).toEqual([ch]);
    expect(logs.some((l) => l.startsWith('cannot decode') && l.includes(ch))).toBe(true);

    // Something that is not a publication stored on a channel's subject: reads fail loudly, never skip it.
    const stored = freshChannel('garbage');
    await jetstream(admin).publish(subjectSpace('garbage').history(stored), 'not a publication');
    await expect(b.history(stored)).rejects.toBeInstanceOf(NatsDecodeError);
    await expect(b.publish(stored, 'x')).rejects.toBeInstanceOf(NatsDecodeError);
    expect(b.stats.decodeErrors).toBe(3);
  });

  it('returns the first result for a repeated key after the first publication left history, from any node', async () => {
    const [a, b] = await Promise.all([node('idem', { historySize: 3, historyTtlMs: 60_000 }), node('idem', { historySize: 3, historyTtlMs: 60_000 })]);
    const ch = freshChannel('idem');
    const first = await a.publish(ch, 'once', { idempotencyKey: 'order-1' });
    expect(await b.publish(ch, 'once', { idempotencyKey: 'order-1' })).toMatchObject({ offset: 1, epoch: first.epoch, data: 'once' });
    for (let i = 0; i < 5; i++) await a.publish(ch, i);
    expect((await a.history(ch)).publications.map((p) => p.offset)).toEqual([4, 5, 6]);
    await vi.waitFor(async () => {
      expect(await b.publish(ch, 'once', { idempotencyKey: 'order-1' })).toMatchObject({ offset: 1, epoch: first.epoch });
    });
    expect(await a.position(ch)).toEqual({ epoch: first.epoch, offset: 6 });
    // The same key on another channel is another publication.
    expect((await a.publish(freshChannel('idem'), 'once', { idempotencyKey: 'order-1' })).offset).toBe(1);
  });

  it('stores one publication for a key sent to two nodes at once', async () => {
    const [a, b] = await Promise.all([node('idem', { historySize: 3, historyTtlMs: 60_000 }), node('idem', { historySize: 3, historyTtlMs: 60_000 })]);
    const ch = freshChannel('idem');
    const results = await Promise.all([a, b, a, b].map((n) => n.publish(ch, 'once', { idempotencyKey: 'k' })));
    expect(new Set(results.map((p) => `${p.epoch}:${p.offset}`)).size).toBe(1);
    expect((await a.history(ch)).publications).toHaveLength(1);
  });

  it('reads long histories through a consumer and short catch-ups by walking back', async () => {
    const a = await node('long', { historySize: 50, historyTtlMs: 60_000, historyWalkLimit: 4 });
    const ch = freshChannel('long');
    for (const i of range(60)) await a.publish(ch, i);
    const all = await a.history(ch);
    expect(all.publications.map((p) => p.data)).toEqual(range(60).slice(10));
    const since = await a.history(ch, { since: { epoch: all.epoch, offset: 20 }, limit: 5 });
    expect(since.publications.map((p) => p.offset)).toEqual([21, 22, 23, 24, 25]);
    const walk = await a.history(ch, { since: { epoch: all.epoch, offset: 57 }, reverse: true });
    expect(walk.publications.map((p) => p.offset)).toEqual([60, 59, 58]);
    await expect(a.history(ch, { since: { epoch: all.epoch, offset: 9 } })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    expect((await a.history(ch, { since: { epoch: all.epoch, offset: 10 } })).publications).toHaveLength(50);
  });

  it('changes the epoch when the channel is purged, and when the stream is deleted', async () => {
    const o = { ...limits, requestTimeoutMs: 500 };
    const [a, b] = await Promise.all([node('purge', o), node('purge', o)]);
    const jsm = await jetstreamManager(admin);
    const ch = freshChannel('purge');
    const empty = await b.position(ch);
    for (const i of range(3)) await a.publish(ch, i);
    const old = await b.position(ch);
    await jsm.streams.purge('purge_channels', { filter: subjectSpace('purge').history(ch) });
    const fresh = await b.position(ch);
    expect(fresh.offset).toBe(0);
    expect(fresh.epoch).not.toBe(old.epoch);
    await expect(b.history(ch, { since: old })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    // Regression: a client that saw the channel empty must not "recover" nothing after a purge.
    await expect(b.history(ch, { since: empty })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    // a still has the old head cached: its publish must notice and start the announced epoch.
    expect(await a.publish(ch, 'after purge')).toMatchObject({ offset: 1, epoch: fresh.epoch });

    await jsm.streams.delete('purge_channels');
    const reborn = await a.publish(ch, 'after delete');
    expect(reborn.offset).toBe(1);
    expect(reborn.epoch).not.toBe(fresh.epoch);
    expect(await b.publish(ch, 'next')).toMatchObject({ offset: 2, epoch: reborn.epoch });
    await expect(b.history(ch, { since: { epoch: fresh.epoch, offset: 1 } })).rejects.toBeInstanceOf(UnrecoverablePositionError);
  });
});

describe('NatsBroker when nats-server goes away', () => {
  it('rejects promptly with BrokerUnavailableError, then works again after restart with nothing acknowledged lost', async () => {
    const own = await NatsServer.start();
    try {
      const o = { historySize: 100, historyTtlMs: 60_000, requestTimeoutMs: 1_000, reconnectTimeWaitMs: 50 };
      const [a, b] = await Promise.all([node('outage', o, own.url), node('outage', o, own.url)]);
      const seen = collector(b);
      const ch = freshChannel('outage');
      await b.subscribe(ch);
      const acked: Publication[] = [];
      for (const i of range(5)) acked.push(await a.publish(ch, i));

      await own.stop();
      const started = Date.now();
      await expect(a.publish(ch, 'down')).rejects.toBeInstanceOf(BrokerUnavailableError);
      await expect(a.history(ch)).rejects.toBeInstanceOf(BrokerUnavailableError);
      await expect(a.position(ch)).rejects.toBeInstanceOf(BrokerUnavailableError);
      expect(Date.now() - started).toBeLessThan(3_000);

      await own.restart();
      await vi.waitFor(async () => acked.push(await a.publish(ch, 'back')), { timeout: 10_000, interval: 50 });
      // The subscriber was told it may have missed publications while NATS was away.
      await vi.waitFor(() => expect(seen.gaps).toContain(ch));

      await own.kill();
      await own.restart();
      await vi.waitFor(async () => acked.push(await a.publish(ch, 'after crash')), { timeout: 10_000, interval: 50 });
      await vi.waitFor(() => expect(seen.gaps).toEqual([ch, ch]), { timeout: 10_000 });

      const page = await b.history(ch);
      const stored = new Map(page.publications.map((p) => [p.offset, p]));
      for (const p of acked) expect(stored.get(p.offset)).toMatchObject({ epoch: p.epoch, data: p.data });
      expect(page.publications.map((p) => p.offset)).toEqual(range(page.offset));
      await Promise.all([a.close(), b.close()]);
    } finally {
      await own.close();
    }
  });
});

describe('NatsBroker on a three-server JetStream cluster', () => {
  let cluster: NatsCluster;
  let nodes: NatsBroker[];
  beforeAll(async () => {
    cluster = await startCluster(3);
    const o = { historySize: 500, historyTtlMs: 60_000, replicas: 3, requestTimeoutMs: 5_000 };
    nodes = [];
    for (const url of cluster.urls) nodes.push(await node('cl', o, url));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await cluster?.close();
  });

  // Regression: on 2.9 an R3 stream accepted two appends with the same expected subject sequence.
  it('gives concurrent publishes from three servers offsets 1..N on an R3 stream, new channels included', async () => {
    const seen = collector(nodes[2]!);
    for (let round = 0; round < 5; round++) {
      const ch = freshChannel('cluster');
      await nodes[2]!.subscribe(ch);
      const pubs = await Promise.all(range(60).map((i) => nodes[i % 3]!.publish(ch, i)));
      expect(pubs.map((p) => p.offset).sort((x, y) => x - y)).toEqual(range(60));
      expect(new Set(pubs.map((p) => p.epoch)).size).toBe(1);
      expect((await nodes[1]!.history(ch)).publications.map((p) => p.offset)).toEqual(range(60));
      await vi.waitFor(() => expect(seen.pubs.filter((p) => p.channel === ch).map((p) => p.offset)).toEqual(range(60)));
    }
    expect(seen.gaps).toEqual([]);
  });

  it('stores one publication for one idempotency key sent to three servers at once', async () => {
    const ch = freshChannel('cluster-idem');
    const results = await Promise.all(nodes.map((n) => n.publish(ch, 'pay 10', { idempotencyKey: 'tx-1' })));
    expect(new Set(results.map((p) => `${p.epoch}:${p.offset}`)).size).toBe(1);
    expect((await nodes[0]!.history(ch)).publications.map((p) => p.data)).toEqual(['pay 10']);
  });
});

describe('NatsBroker when the stream leader of an R3 stream is killed', () => {
  it('keeps every acknowledged publication at its offset, with no offset given twice', { timeout: 90_000 }, async () => {
    const cluster = await startCluster(3);
    try {
      const o = { historySize: 1_000, historyTtlMs: 60_000, replicas: 3, requestTimeoutMs: 2_000, reconnectTimeWaitMs: 100 };
      const nodes: NatsBroker[] = [];
      for (const url of cluster.urls) nodes.push(await node('failover', o, url));
      const ch = freshChannel('failover');
      await nodes[0]!.publish(ch, 'first');
      const adm = await connect({ servers: cluster.urls });
      const info = await (await jetstreamManager(adm)).streams.info('failover_channels');
      await adm.close();
      const leader = Number(info.cluster!.leader!.replace(/^n/, ''));
      const survivors = nodes.filter((_, i) => i !== leader);
      const seen = collector(survivors[0]!);
      await survivors[0]!.subscribe(ch);

      const acked: Publication[] = [];
      let failures = 0;
      const writer = async (b: NatsBroker, id: string) => {
        for (let i = 0; acked.length < 150; i++) {
          try {
            acked.push(await b.publish(ch, `${id}-${i}`));
          } catch (err) {
            expect(err).toBeInstanceOf(BrokerUnavailableError);
            failures += 1;
            await vi.waitFor(() => b.position(ch).then(() => undefined), { timeout: 30_000, interval: 100 });
          }
        }
      };
      const writing = Promise.all(nodes.map((b, i) => writer(b, `w${i}`)));
      await vi.waitFor(() => expect(acked.length).toBeGreaterThan(30));
      await cluster.servers[leader]!.kill();
      await writing;

      // A long history read falls back from a consumer (needs the meta leader, maybe re-electing) to a walk.
      const page = await vi.waitFor(() => survivors[1]!.history(ch), { timeout: 30_000, interval: 250 });
      const stored = new Map(page.publications.map((p) => [p.offset, p.data]));
      expect(page.publications.map((p) => p.offset)).toEqual(range(page.offset));
      for (const p of acked) expect(stored.get(p.offset), `offset ${p.offset}`).toBe(p.data);
      expect(new Set(acked.map((p) => p.offset)).size).toBe(acked.length);
      // What the subscriber saw live agrees with history, offset by offset.
      await vi.waitFor(() => expect(seen.pubs.length + seen.gaps.length).toBeGreaterThan(0));
      for (const p of seen.pubs) expect(stored.get(p.offset), `live offset ${p.offset}`).toBe(p.data);
      logs.push(`failover: ${acked.length} acked, ${failures} refused, ${page.offset} stored`);
    } finally {
      await cluster.close();
    }
  });
});

describe('ChannelSequencer (live ordering)', () => {
  function harness(baseline: Parameters<ChannelSequencer['start']>[0]) {
    const out: number[] = [];
    const gaps: string[] = [];
    const timers: Array<() => void> = [];
    const s = new ChannelSequencer('c', {
      deliver: (p) => out.push(p.offset),
      gap: (_ch, reason) => gaps.push(reason),
      reorderWindowMs: 100,
      maxBuffered: 3,
      setTimer: (fn) => timers.push(fn),
      clearTimer: () => timers.splice(0),
    });
    s.start(baseline);
    const pub = (offset: number, epoch = 'e1'): Publication => ({ channel: 'c', offset, epoch, data: offset, time: 0 });
    return { s, out, gaps, timers, pub };
  }

  it('reorders an early arrival when the missing one follows in time', () => {
    const h = harness({ kind: 'position', position: { epoch: 'e1', offset: 4 } });
    h.s.push(h.pub(6));
    h.s.push(h.pub(5));
    h.s.push(h.pub(5));
    expect(h.out).toEqual([5, 6]);
    expect(h.gaps).toEqual([]);
    expect(h.s.duplicates).toBe(1);
    expect(h.timers).toHaveLength(0);
  });

  it('reports a gap when the missing offset does not arrive, then goes on', () => {
    const h = harness({ kind: 'position', position: { epoch: 'e1', offset: 4 } });
    h.s.push(h.pub(7));
    h.s.push(h.pub(6));
    expect(h.out).toEqual([]);
    h.timers.shift()!();
    expect(h.gaps).toHaveLength(1);
    expect(h.out).toEqual([6, 7]);
    h.s.push(h.pub(8));
    expect(h.out).toEqual([6, 7, 8]);
  });

  it('reports a gap at once when too many wait', () => {
    const h = harness({ kind: 'empty' });
    for (const o of [3, 4, 5, 6]) h.s.push(h.pub(o));
    expect(h.gaps).toHaveLength(1);
    expect(h.out).toEqual([3, 4, 5, 6]);
  });

  it('holds arrivals until the baseline is known, and drops those it already covers', () => {
    const out: number[] = [];
    const s = new ChannelSequencer('c', { deliver: (p) => out.push(p.offset), gap: () => {}, reorderWindowMs: 100, maxBuffered: 10 });
    const pub = (offset: number): Publication => ({ channel: 'c', offset, epoch: 'e1', data: 0, time: 0 });
    s.push(pub(3));
    s.push(pub(4));
    expect(out).toEqual([]);
    s.start({ kind: 'position', position: { epoch: 'e1', offset: 3 } });
    expect(out).toEqual([4]);
  });

  it('treats a new epoch as a gap and follows the new epoch', () => {
    const h = harness({ kind: 'position', position: { epoch: 'e1', offset: 9 } });
    h.s.push(h.pub(1, 'e2'));
    h.s.push(h.pub(2, 'e2'));
    expect(h.gaps).toHaveLength(1);
    expect(h.out).toEqual([1, 2]);
  });

  it('after forget() adopts whatever arrives next', () => {
    const h = harness({ kind: 'position', position: { epoch: 'e1', offset: 2 } });
    h.s.forget();
    h.s.push(h.pub(10));
    h.s.push(h.pub(11));
    expect(h.out).toEqual([10, 11]);
    expect(h.gaps).toEqual([]);
  });
});
