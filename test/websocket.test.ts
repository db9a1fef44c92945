import { describe, expect, it, vi } from 'vitest';
import { DISCONNECT_TABLE, type StreamPosition } from '../contract/index.js';
import { BrokerUnavailableError } from '../server/broker/broker.js';
import { MemoryBroker } from '../server/broker/memory.js';
import { openNetWs } from './support/net-ws.js';
import { startServer } from './support/server.js';
import { connectWs } from './support/ws-client.js';

describe('WebSocket transport', () => {
  it('greets with a connected frame naming the node and the ping interval', async () => {
    await using srv = await startServer({ HUBBUB_PING_INTERVAL: '7', HUBBUB_NODE_ID: 'n1' });
    const peer = await connectWs(srv.wsUrl);
    expect(peer.frames[0]).toMatchObject({ type: 'connected', node: 'n1', pingInterval: 7000 });
    await peer.close();
  });

  it('answers ping with pong and echoes command ids', async () => {
    await using srv = await startServer();
    const peer = await connectWs(srv.wsUrl);
    peer.send({ id: 41, type: 'ping' });
    expect(await peer.next('pong')).toEqual({ id: 41, type: 'pong' });
    await peer.close();
  });

  it('unsubscribes: no more publications, and the reply carries the id', async () => {
    await using srv = await startServer();
    const peer = await connectWs(srv.wsUrl);
    peer.send({ id: 1, type: 'subscribe', channel: 'a' });
    peer.send({ id: 2, type: 'subscribe', channel: 'b' });
    await peer.next('subscribed', (f) => f.channel === 'b');
    peer.send({ id: 3, type: 'unsubscribe', channel: 'a' });
    expect(await peer.next('unsubscribed')).toEqual({ id: 3, type: 'unsubscribed', channel: 'a' });
    await srv.publish('a', 'dropped');
    await srv.publish('b', 'kept');
    await peer.next('publication', (f) => f.channel === 'b');
    expect(peer.frames.filter((f) => f.type === 'publication').map((f) => (f as { data: unknown }).data)).toEqual(['kept']);
    expect(srv.app.hub.channelCounts()).toEqual([{ channel: 'b', subscribers: 1 }]);
    await peer.close();
  });

  it.each([
    ['binary frame', Buffer.from([1, 2, 3]), 'invalid_frame', undefined],
    ['unknown type', { id: 5, type: 'publish', channel: 'a' }, 'invalid_frame', 5],
    ['missing id', { type: 'ping' }, 'invalid_frame', undefined],
    ['unknown field', { id: 6, type: 'ping', extra: 1 }, 'invalid_frame', 6],
    ['bad channel', { id: 7, type: 'subscribe', channel: 'a b' }, 'invalid_channel', 7],
    ['bad since', { id: 8, type: 'subscribe', channel: 'a', since: { epoch: 'e', offset: -1 } }, 'invalid_frame', 8],
  ])('replies to a %s with an error and keeps the connection', async (_name, frame, code, id) => {
    await using srv = await startServer();
    const peer = await connectWs(srv.wsUrl);
    if (Buffer.isBuffer(frame)) peer.ws.send(frame, { binary: true });
    else peer.send(frame);
    const err = await peer.next('error');
    expect(err.code).toBe(code);
    expect(err.id).toBe(id);
    peer.send({ id: 99, type: 'ping' });
    await peer.next('pong');
    await peer.close();
  });

  it('answers a subscribe with a retryable unavailable error while the broker is down, and keeps the connection', async () => {
    class DownBroker extends MemoryBroker {
      override async position(): Promise<StreamPosition> {
        throw new BrokerUnavailableError('nats is down');
      }
    }
    const broker = new DownBroker({ historySize: 10, historyTtlMs: 60_000, sweepIntervalMs: 0 });
    await using srv = await startServer({}, { broker });
    const peer = await connectWs(srv.wsUrl);
    peer.send({ id: 4, type: 'subscribe', channel: 'c' });
    expect(await peer.next('error')).toMatchObject({ id: 4, code: 'unavailable', retryable: true });
    // The channel is free again: a retry is a new subscribe, not already_subscribed.
    peer.send({ id: 5, type: 'subscribe', channel: 'c' });
    expect(await peer.next('error', (f) => f.id === 5)).toMatchObject({ code: 'unavailable' });
    expect(srv.warnings).toEqual([]);
    await peer.close();
  });

  it('limits channels per connection', async () => {
    await using srv = await startServer({ HUBBUB_MAX_CHANNELS: '2' });
    const peer = await connectWs(srv.wsUrl);
    for (let i = 1; i <= 3; i++) peer.send({ id: i, type: 'subscribe', channel: `c${i}` });
    expect(await peer.next('error')).toMatchObject({ id: 3, code: 'too_many_channels' });
    await peer.close();
  });

  it('closes with 1009 on a frame over the size limit, others keep working', async () => {
    await using srv = await startServer({ HUBBUB_MAX_MESSAGE_BYTES: '1024' });
    const bystander = await connectWs(srv.wsUrl);
    bystander.send({ id: 1, type: 'subscribe', channel: 'calm' });
    await bystander.next('subscribed');
    const peer = await connectWs(srv.wsUrl);
    peer.send(JSON.stringify({ id: 1, type: 'ping', pad: 'x'.repeat(2000) }));
    expect(await peer.closeCode).toBe(DISCONNECT_TABLE.message_too_big.code);
    await srv.publish('calm', 'fine');
    await bystander.next('publication');
    await bystander.close();
  });

  it('closes a peer that stops answering pings with the stale code', async () => {
    await using srv = await startServer({ HUBBUB_PING_INTERVAL: '1' });
    const peer = await connectWs(srv.wsUrl, { autoPong: false });
    expect(await peer.closeCode).toBe(DISCONNECT_TABLE.stale.code);
  });

  it('still pings after a restart on the same port (regression: the timer died with stop())', async () => {
    await using srv = await startServer({ HUBBUB_PING_INTERVAL: '1' });
    await srv.restart();
    const peer = await connectWs(srv.wsUrl, { autoPong: false });
    expect(await peer.closeCode).toBe(DISCONNECT_TABLE.stale.code);
  });

  it('keeps a peer that answers pings', async () => {
    await using srv = await startServer({ HUBBUB_PING_INTERVAL: '1' });
    const peer = await connectWs(srv.wsUrl);
    let pings = 0;
    peer.ws.on('ping', () => (pings += 1));
    await vi.waitFor(() => expect(pings).toBeGreaterThanOrEqual(3), { timeout: 6000 });
    expect(peer.ws.readyState).toBe(peer.ws.OPEN);
    await peer.close();
  });

  it('drops a slow consumer with a reconnect-and-recover code instead of buffering without bound', async () => {
    await using srv = await startServer({ HUBBUB_MAX_QUEUE_BYTES: '65536' });
    const peer = await openNetWs(srv.wsUrl);
    peer.send({ id: 1, type: 'subscribe', channel: 'firehose' });
    await vi.waitFor(() => expect(peer.frames.map((f) => f.type)).toContain('subscribed'));
    // Stop reading: the socket buffers fill up on both sides.
    peer.socket.pause();
    const big = 'y'.repeat(60_000);
    for (let i = 0; i < 120; i++) await srv.publish('firehose', big);
    peer.socket.resume();
    expect(await peer.closeCode).toBe(DISCONNECT_TABLE.slow_consumer.code);
    expect(DISCONNECT_TABLE.slow_consumer.reconnect).toBe(true);
    expect(peer.invalid).toEqual([]);
  });

  it('closes every client with the shutdown code on stop, and serves again after restart', async () => {
    await using srv = await startServer();
    const peer = await connectWs(srv.wsUrl);
    const restarted = srv.restart();
    expect(await peer.closeCode).toBe(DISCONNECT_TABLE.shutdown.code);
    await restarted;
    const again = await connectWs(srv.wsUrl);
    again.send({ id: 1, type: 'ping' });
    await again.next('pong');
    await again.close();
  });
});
