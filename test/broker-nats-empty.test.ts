import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { isEmptyEpoch } from '../contract/empty-epoch.js';
import { subjectSpace } from '../server/broker/nats/subject.js';
import { freshChannel } from './support/broker-conformance.js';
import { admin, node, useNatsServer } from './support/nats-nodes.js';

// NatsBroker and an empty position `0<T>:0` beyond the conformance suite: the time rule alone cannot
// see a generation lost without a seal, whose epoch record is then followed by a new epoch at offset 1.

useNatsServer();

describe('NatsBroker and an empty position', () => {
  // A generation that starts after T and is lost unsealed (purged, or expired while no node was left to
  // seal it) leaves a started record; the next publish starts a new epoch at offset 1, stored after T.
  // A client at T missed the lost generation: the new offset 1 does not continue its position.
  it('refuses an empty position seen before a generation that was lost unsealed, though its successor starts at offset 1', async () => {
    const prefix = 'lostgen';
    const a = await node(prefix, { historySize: 10, historyTtlMs: 60_000, requestTimeoutMs: 500 });
    const ch = freshChannel('lostgen');
    const seen = await a.position(ch);
    expect(isEmptyEpoch(seen.epoch)).toBe(true);
    const lost = await a.publish(ch, 'lost');
    const space = subjectSpace(prefix);
    await (await jetstreamManager(admin)).streams.purge(space.stream, { filter: space.history(ch) });

    const next = await a.publish(ch, 'after the loss');
    expect(next.offset).toBe(1);
    expect(next.epoch).not.toBe(lost.epoch);
    expect(next.time).toBeGreaterThanOrEqual(lost.time);
    await expect(a.history(ch, { since: seen })).rejects.toMatchObject({ current: { epoch: next.epoch, offset: 1 } });
  });
});
