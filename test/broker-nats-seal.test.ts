import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it, vi } from 'vitest';
import { UnrecoverablePositionError } from '../server/broker/broker.js';
import { subjectSpace } from '../server/broker/nats/subject.js';
import { freshChannel } from './support/broker-conformance.js';
import { admin, collector, node, range, storedOn, useNatsServer } from './support/nats-nodes.js';

// NatsBroker specifics of a channel quiet longer than the history TTL: sealing (server/broker/nats/seal.ts),
// its races, and the meta stream. The shared behaviour is in the conformance suite (test/broker-nats.test.ts).

useNatsServer();

describe('NatsBroker: a quiet channel is sealed to keep its position', () => {
  const limits = { historySize: 500, historyTtlMs: 60_000 };
  const quietLimits = { historySize: 10, historyTtlMs: 1_000, claimWindowMs: 1_000, sealGraceMs: 1_500 };
  const emptied = (subject: string) =>
    vi.waitFor(async () => expect(await storedOn(subject)).toBeNull(), { timeout: 20_000, interval: 100 });

  it('gives a new epoch to a channel that went quiet with no running node to seal it, never a gap', async () => {
    const [a, b] = await Promise.all([node('ttl', quietLimits), node('ttl', quietLimits)]);
    const ch = freshChannel('ttl');
    await a.publish(ch, 1);
    const old = await a.publish(ch, 2);
    // The node that saw the channel's last publication stops before the channel is quiet long enough.
    await a.close();
    await emptied(subjectSpace('ttl').history(ch));
    expect(b.stats.seals).toBe(0);
    const now = await b.position(ch);
    expect(now.offset).toBe(0);
    expect(now.epoch).not.toBe(old.epoch);
    await expect(b.history(ch, { since: old })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    expect(await b.publish(ch, 3)).toMatchObject({ offset: 1, epoch: now.epoch });
  });

  it('seals a quiet channel once, reopens it once for concurrent publishers on two nodes, and keeps the next last offset', async () => {
    const [a, b] = await Promise.all([node('reseal', quietLimits), node('reseal', quietLimits)]);
    const seen = collector(b);
    const ch = freshChannel('reseal');
    // b delivers the channel live, so both nodes race to seal it: one seal, one closed record.
    await b.subscribe(ch);
    for (const i of range(3)) await a.publish(ch, i);
    await vi.waitFor(() => expect(a.stats.seals + b.stats.seals).toBe(1), { timeout: 20_000, interval: 50 });
    const space = subjectSpace('reseal');
    await emptied(space.history(ch));
    const pubs = await Promise.all(range(20).map((i) => (i % 2 ? a : b).publish(ch, `again ${i}`)));
    const epoch = pubs[0]!.epoch;
    expect(pubs.map((p) => p.offset).sort((x, y) => x - y)).toEqual(range(23).slice(3));
    expect(new Set(pubs.map((p) => p.epoch))).toEqual(new Set([epoch]));
    await vi.waitFor(() => expect(seen.pubs.map((p) => p.offset)).toEqual(range(23)));
    expect(seen.gaps).toEqual([]);
    // Quiet again: the position kept is the new last offset, whoever published it.
    await vi.waitFor(() => expect(a.stats.seals + b.stats.seals).toBe(2), { timeout: 20_000, interval: 50 });
    await emptied(space.history(ch));
    expect(await a.position(ch)).toEqual({ epoch, offset: 23 });
    expect(await b.position(ch)).toEqual({ epoch, offset: 23 });
  });

  it('never keeps a stale position when a publish from another node races the seal', async () => {
    const [a, b] = await Promise.all([node('sealrace', quietLimits), node('sealrace', quietLimits)]);
    const space = subjectSpace('sealrace');
    const channels = range(12).map(() => freshChannel('sealrace'));
    const last = await Promise.all(
      channels.map(async (ch) => {
        await a.publish(ch, 1);
        await a.publish(ch, 2);
        // The moment the publications leave the history TTL is the moment a's sealer may act.
        await vi.waitFor(async () => expect((await b.history(ch)).publications).toEqual([]), { timeout: 20_000, interval: 20 });
        return b.publish(ch, 3);
      }),
    );
    for (const ch of channels) await emptied(space.history(ch));
    for (const [i, ch] of channels.entries()) {
      const now = await a.position(ch);
      // Either the true last position, or a new epoch: never an old offset that 3 would follow again.
      if (now.epoch === last[i]!.epoch) expect(now, ch).toEqual({ epoch: last[i]!.epoch, offset: 3 });
      else expect(now.offset, ch).toBe(0);
      expect(await b.publish(ch, 4), ch).toMatchObject(now.epoch === last[i]!.epoch ? { epoch: now.epoch, offset: 4 } : { epoch: now.epoch, offset: 1 });
    }
  });

  it('never gives an offset twice when a publication after a seal expires unsealed', async () => {
    const [a, b] = await Promise.all([node('unsealed', quietLimits), node('unsealed', quietLimits)]);
    const ch = freshChannel('unsealed');
    await a.publish(ch, 1);
    const sealedAt = await a.publish(ch, 2);
    await vi.waitFor(() => expect(a.stats.seals).toBe(1), { timeout: 20_000, interval: 20 });
    // b publishes after the seal, then stops before it could seal the channel again.
    const after = await b.publish(ch, 3);
    expect(after).toMatchObject({ epoch: sealedAt.epoch, offset: 3 });
    await b.close();
    await emptied(subjectSpace('unsealed').history(ch));
    // The record must not still say "ended at 2": offset 3 would be given again to another publication.
    const now = await a.position(ch);
    expect(now).not.toEqual({ epoch: sealedAt.epoch, offset: 2 });
    expect(now.offset).toBe(0);
    await expect(a.history(ch, { since: after })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    expect(await a.publish(ch, 'next')).toMatchObject({ epoch: now.epoch, offset: 1 });
  });

  it('serves history across a seal on both read paths', async () => {
    const a = await node('sealread', { ...quietLimits, sealGraceMs: 3_000 });
    const viaConsumer = await node('sealread', { ...quietLimits, sealGraceMs: 3_000, historyWalkLimit: 0 });
    const ch = freshChannel('sealread');
    await a.publish(ch, 1);
    const before = await a.publish(ch, 2);
    await vi.waitFor(() => expect(a.stats.seals).toBe(1), { timeout: 20_000, interval: 50 });
    // Publication 2 and the seal are still in JetStream (the grace), just out of the history TTL.
    expect(await storedOn(subjectSpace('sealread').history(ch))).not.toBeNull();
    const next = await a.publish(ch, 3);
    expect(next).toMatchObject({ epoch: before.epoch, offset: 3 });
    for (const reader of [a, viaConsumer]) {
      expect((await reader.history(ch)).publications.map((p) => p.data)).toEqual([3]);
      expect((await reader.history(ch, { since: before })).publications.map((p) => p.data)).toEqual([3]);
      await expect(reader.history(ch, { since: { epoch: before.epoch, offset: 1 } })).rejects.toBeInstanceOf(UnrecoverablePositionError);
    }
  });

  it('keeps epoch records in a meta stream bounded by max_age, one per channel and max_msgs', async () => {
    const jsm = await jetstreamManager(admin);
    // A deployment made before the meta stream existed kept its epoch records in the history stream.
    await jsm.streams.add({
      name: 'legacy_channels',
      subjects: ['legacy.ch.*', 'legacy.epoch.*'],
      republish: { src: 'legacy.ch.*', dest: 'legacy.live.{{wildcard(1)}}' },
    });
    await node('legacy', { historySize: 10, historyTtlMs: 60_000, historyMetaTtlMs: 7 * 86_400_000, historyMetaMaxChannels: 50 });
    const meta = (await jsm.streams.info('legacy_meta')).config;
    expect(meta).toMatchObject({ subjects: ['legacy.epoch.*'], max_msgs_per_subject: 1, max_msgs: 50, discard: 'old' });
    expect(meta.max_age).toBe(7 * 86_400_000 * 1_000_000);
    expect((await jsm.streams.info('legacy_channels')).config.subjects).toEqual(['legacy.ch.*']);
  });

  it('adds no NATS request to a publish on a channel with stored publications', async () => {
    const a = await node('hot', limits);
    const ch = freshChannel('hot');
    // The first publish starts the channel, the second reads the head once to find nobody else writes it.
    await a.publish(ch, 'first');
    await a.publish(ch, 'second');
    const requests: string[] = [];
    // Requests to JetStream's API about this deployment's streams, and messages to its subjects.
    const ours = (subject: string) => subject.startsWith('hot.') || /\.hot_/.test(subject);
    const subs = ['$JS.API.>', 'hot.ch.>', 'hot.epoch.>'].map((s) =>
      admin.subscribe(s, { callback: (_e, m) => void (ours(m.subject) && requests.push(m.subject)) }),
    );
    await admin.flush();
    for (const i of range(20)) await a.publish(ch, i);
    await admin.flush();
    for (const sub of subs) sub.unsubscribe();
    // One conditional append each: no head read (this node wrote the head), no epoch record.
    expect(requests, requests.join('\n')).toEqual(range(20).map(() => subjectSpace('hot').history(ch)));
  });
});
