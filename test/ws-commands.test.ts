import { describe, expect, it, vi } from 'vitest';
import { DISCONNECT_TABLE, type ServerFrame } from '../contract/index.js';
import { BrokerUnavailableError, type HistoryPage, type HistoryQuery } from '../server/broker/broker.js';
import { MemoryBroker } from '../server/broker/memory.js';
import { GatedBroker } from './support/gated-broker.js';
import { type NetWs, openNetWs } from './support/net-ws.js';
import { startServer } from './support/server.js';

/**
 * The first history read misses its last publication while two newer ones arrive live, so the hub
 * must read the hole after it has answered `subscribed`; that second read fails.
 */
class HoleThenDownBroker extends MemoryBroker {
  private reads = 0;

  constructor() {
    super({ historySize: 10, historyTtlMs: 60_000, sweepIntervalMs: 0 });
  }

  override async history(channel: string, query?: HistoryQuery): Promise<HistoryPage> {
    if (++this.reads > 1) throw new BrokerUnavailableError('nats is down');
    const page = await super.history(channel, query);
    await this.publish(channel, 'live 1');
    await this.publish(channel, 'live 2');
    return { ...page, publications: page.publications.slice(0, -1) };
  }
}

const withId = (peer: NetWs, id: number) => peer.frames.filter((f) => 'id' in f && f.id === id);

/** A ping round trip: everything the server sent before its pong has arrived. */
async function roundTrip(peer: NetWs, id: number): Promise<void> {
  peer.send({ id, type: 'ping' });
  await vi.waitFor(() => expect(withId(peer, id).map((f) => f.type)).toEqual(['pong']));
}

const gated = async () => {
  const broker = new GatedBroker();
  const srv = await startServer({}, { broker });
  return { broker, srv, [Symbol.asyncDispose]: () => srv.close() };
};

describe('WebSocket command replies', () => {
  it.each([
    ['1.5', '{"id":1.5,"type":"ping"}'],
    ['-1', '{"id":-1,"type":"ping"}'],
    ['0', '{"id":0,"type":"ping"}'],
    ['2^31', '{"id":2147483648,"type":"subscribe","channel":"a"}'],
    ['2^53', '{"id":9007199254740992,"type":"ping"}'],
    ['1e308', '{"id":1e308,"type":"ping"}'],
    ['1e400 (Infinity once parsed)', '{"id":1e400,"type":"ping"}'],
    ['a string', '{"id":"7","type":"ping"}'],
  ])('answers a command with the invalid id %s with an error frame that has no id', async (_name, raw) => {
    await using srv = await startServer();
    const peer = await openNetWs(srv.wsUrl);
    peer.send(raw);
    await roundTrip(peer, 1);
    expect(peer.invalid).toEqual([]);
    const errors = peer.frames.filter((f) => f.type === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'invalid_frame' });
    expect(errors[0]).not.toHaveProperty('id');
    peer.destroy();
  });

  it('answers a subscribe cut short by an unsubscribe with cancelled, before the unsubscribed reply', async () => {
    await using g = await gated();
    const peer = await openNetWs(g.srv.wsUrl);
    peer.send({ id: 1, type: 'subscribe', channel: 'x' });
    await vi.waitFor(() => expect(g.broker.waiting).toBe(1));
    peer.send({ id: 2, type: 'unsubscribe', channel: 'x' });
    await vi.waitFor(() => expect(withId(peer, 2)).toHaveLength(1));
    const replies = peer.frames.filter((f) => f.type !== 'connected');
    expect(replies).toEqual([
      expect.objectContaining({ type: 'error', id: 1, code: 'cancelled', retryable: false }),
      { type: 'unsubscribed', id: 2, channel: 'x' },
    ]);
    // The hub's subscribe finishes later: it must not answer id 1 a second time.
    g.broker.open();
    await roundTrip(peer, 3);
    expect(withId(peer, 1)).toHaveLength(1);
    expect(g.srv.app.hub.subscriptionCount).toBe(0);
    expect(peer.invalid).toEqual([]);
    peer.destroy();
  });

  it('keeps the one reply of a cancelled subscribe whose broker call then fails, and does not disturb the next subscribe', async () => {
    await using g = await gated();
    const peer = await openNetWs(g.srv.wsUrl);
    peer.send({ id: 1, type: 'subscribe', channel: 'x' });
    await vi.waitFor(() => expect(g.broker.waiting).toBe(1));
    peer.send({ id: 2, type: 'unsubscribe', channel: 'x' });
    peer.send({ id: 3, type: 'subscribe', channel: 'x' });
    await vi.waitFor(() => expect(g.broker.waiting).toBe(2));
    g.broker.fail(new BrokerUnavailableError('nats is down'));
    g.broker.open();
    await vi.waitFor(() => expect(withId(peer, 3).map((f) => f.type)).toEqual(['subscribed']));
    await roundTrip(peer, 4);
    expect(withId(peer, 1)).toEqual([expect.objectContaining({ type: 'error', code: 'cancelled' })]);
    await g.srv.publish('x', 'still subscribed');
    await vi.waitFor(() => expect(peer.frames.filter((f) => f.type === 'publication')).toHaveLength(1));
    expect(peer.invalid).toEqual([]);
    peer.destroy();
  });

  it('answers a subscribe whose broker call fails with one retryable error', async () => {
    await using g = await gated();
    const peer = await openNetWs(g.srv.wsUrl);
    peer.send({ id: 1, type: 'subscribe', channel: 'x' });
    await vi.waitFor(() => expect(g.broker.waiting).toBe(1));
    g.broker.fail(new BrokerUnavailableError('nats is down'));
    await roundTrip(peer, 2);
    expect(withId(peer, 1)).toEqual([expect.objectContaining({ type: 'error', code: 'unavailable', retryable: true })]);
    expect(g.srv.app.hub.subscriptionCount).toBe(0);
    peer.destroy();
  });

  it('answers a subscribe that the hub gives up on while it is pending with the insufficient_state close code', async () => {
    await using g = await gated();
    const peer = await openNetWs(g.srv.wsUrl);
    peer.send({ id: 1, type: 'subscribe', channel: 'x' });
    await vi.waitFor(() => expect(g.broker.waiting).toBe(1));
    // More live publications than the hub holds for one pending subscriber.
    for (let i = 0; i <= 10_000; i++) await g.srv.app.hub.publish('x', i);
    expect(await peer.closeCode).toBe(DISCONNECT_TABLE.insufficient_state.code);
    g.broker.open();
    expect(withId(peer, 1)).toEqual([]);
  });

  it('closes with insufficient_state when a subscribe fails after its subscribed reply, instead of a second reply', async () => {
    const broker = new HoleThenDownBroker();
    await using srv = await startServer({}, { broker });
    const first = await srv.publish('x', 'one');
    await srv.publish('x', 'two');
    await srv.publish('x', 'three');
    const peer = await openNetWs(srv.wsUrl);
    peer.send({ id: 1, type: 'subscribe', channel: 'x', since: { epoch: first.epoch, offset: 1 } });
    expect(await peer.closeCode).toBe(DISCONNECT_TABLE.insufficient_state.code);
    expect(withId(peer, 1).map((f) => f.type)).toEqual(['subscribed']);
    expect(peer.invalid).toEqual([]);
  });

  it('answers a subscribe pending at shutdown with the shutdown close code', async () => {
    await using g = await gated();
    const peer = await openNetWs(g.srv.wsUrl);
    peer.send({ id: 1, type: 'subscribe', channel: 'x' });
    await vi.waitFor(() => expect(g.broker.waiting).toBe(1));
    const stopped = g.srv.app.stop();
    expect(await peer.closeCode).toBe(DISCONNECT_TABLE.shutdown.code);
    await stopped;
    expect(peer.frames.filter((f: ServerFrame) => f.type !== 'connected')).toEqual([]);
  });
});
