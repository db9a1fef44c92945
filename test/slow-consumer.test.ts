import { type Socket, connect } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Hubbub } from '../client/index.js';
import { DISCONNECT_TABLE, InfoResponse, type ServerFrame } from '../contract/index.js';
import { collect } from './support/collect.js';
import { serverEnd } from './support/kernel-tcp.js';
import { openNetWs } from './support/net-ws.js';
import { type TestServer, startServer } from './support/server.js';

const MB = 1024 * 1024;
/** One-second ticks so the stall checks run often; publications big enough to fill buffers fast. */
const FAST_PINGS = { HUBBUB_PING_INTERVAL: '1', HUBBUB_MAX_MESSAGE_BYTES: String(MB) };
type Publication = Extract<ServerFrame, { type: 'publication' }>;
const publications = (frames: ServerFrame[]) => frames.filter((f): f is Publication => f.type === 'publication');

const connectionCount = async (srv: TestServer) => InfoResponse.parse(await (await srv.api('/api/info')).json()).connections;

/**
 * Waits until the server counts no connection, publishing `chunk` on every check meanwhile, so a
 * peer that does not read keeps filling its buffers until the server gives up on it.
 */
async function publishUntilNoConnection(srv: TestServer, channel: string, chunk: string): Promise<void> {
  await vi.waitFor(
    async () => {
      if ((await connectionCount(srv)) === 0) return;
      await srv.publish(channel, chunk);
      throw new Error('the peer is still connected');
    },
    { timeout: 15_000, interval: 50 },
  );
}

/** A raw HTTP client that sends the SSE request and then reads nothing. */
async function neverReadingSse(srv: TestServer, channel: string): Promise<Socket> {
  const url = new URL(srv.url);
  const socket = connect(Number(url.port), url.hostname);
  notePort(socket);
  socket.pause();
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(`GET /sse?channels=${channel} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`);
  await vi.waitFor(async () => expect(await connectionCount(srv)).toBe(1));
  await vi.waitFor(() => expect(srv.app.hub.subscriptionCount).toBe(1));
  return socket;
}

/**
 * The server's end of the connection is gone from the kernel, not left as an orphan socket that
 * keeps its full send buffer (about 4 MB) for minutes of zero-window probes.
 */
function expectReleasedByKernel(srv: TestServer, client: Socket): void {
  // Read while connected: a socket the server reset may already have forgotten its local port.
  const port = localPorts.get(client);
  expect(port, 'the client socket was never connected').toBeDefined();
  expect(serverEnd(srv.app.port, port!)).toBeUndefined();
}

/** Local ports of the test's client sockets, noted when they connect. */
const localPorts = new WeakMap<Socket, number>();
function notePort(socket: Socket): void {
  if (socket.localPort !== undefined) localPorts.set(socket, socket.localPort);
  else socket.once('connect', () => localPorts.set(socket, socket.localPort!));
}

describe('slow and stalled consumers', () => {
  it('gives a slow WebSocket reader 4001 behind what its socket holds, not behind the whole budget, and it recovers the rest', async () => {
    const budget = 16 * MB;
    await using srv = await startServer({ HUBBUB_MAX_QUEUE_BYTES: String(budget), HUBBUB_MAX_MESSAGE_BYTES: String(MB) });
    const peer = await openNetWs(srv.wsUrl);
    notePort(peer.socket);
    peer.send({ id: 1, type: 'subscribe', channel: 'firehose' });
    await vi.waitFor(() => expect(peer.frames.map((f) => f.type)).toContain('subscribed'));
    peer.socket.pause();
    // More than the budget plus what the kernel buffers hold (about 4 MB on loopback).
    const total = 28;
    const big = 'x'.repeat(MB - 1024);
    for (let i = 0; i < total; i++) await srv.publish('firehose', big);
    peer.socket.resume();
    expect(await peer.closeCode).toBe(DISCONNECT_TABLE.slow_consumer.code);
    // The close frame came right after what the socket already held: the budget's worth of
    // queued publications was dropped, not sent ahead of it.
    expect(peer.publicationBytes).toBeLessThan(budget);
    expect(peer.invalid).toEqual([]);
    const seen = publications(peer.frames);
    expect(seen.map((p) => p.offset)).toEqual(seen.map((_, i) => i + 1));
    const last = seen.at(-1)!;

    // The client library reconnects on 4001 and resubscribes from its last position. The backlog
    // it asks for is itself larger than the budget, so it may take several rounds: none loses one.
    const client = new Hubbub(srv.url, { WebSocket, random: () => 0, transports: ['websocket'] });
    try {
      const c = collect(client, 'firehose', { epoch: last.epoch, offset: last.offset });
      await vi.waitFor(() => expect(c.pubs.at(-1)?.offset).toBe(total), { timeout: 15_000 });
      expect(c.pubs.map((p) => p.offset)).toEqual(Array.from({ length: total - last.offset }, (_, i) => last.offset + 1 + i));
      expect(c.subscribed().every((s) => s.recovered)).toBe(true);
    } finally {
      client.close();
    }
  });

  it('drops a WebSocket peer that reads nothing, close frame included, within a few ping intervals', async () => {
    await using srv = await startServer({ ...FAST_PINGS });
    const peer = await openNetWs(srv.wsUrl);
    notePort(peer.socket);
    peer.send({ id: 1, type: 'subscribe', channel: 'flood' });
    await vi.waitFor(() => expect(peer.frames.map((f) => f.type)).toContain('subscribed'));
    peer.socket.pause();
    await publishUntilNoConnection(srv, 'flood', 'z'.repeat(256 * 1024));
    expect(srv.app.hub.subscriptionCount).toBe(0);
    expectReleasedByKernel(srv, peer.socket);
    expect(peer.invalid).toEqual([]);
    peer.destroy();
  });

  it('drops a WebSocket peer that answers pings but reads nothing, under a budget it never reaches', async () => {
    await using srv = await startServer({ ...FAST_PINGS, HUBBUB_MAX_QUEUE_BYTES: String(1024 * MB) });
    const peer = await openNetWs(srv.wsUrl);
    notePort(peer.socket);
    peer.send({ id: 1, type: 'subscribe', channel: 'flood' });
    await vi.waitFor(() => expect(peer.frames.map((f) => f.type)).toContain('subscribed'));
    peer.socket.pause();
    // Unsolicited pongs keep the peer from looking stale: only its unread bytes give it away.
    const pongs = setInterval(() => peer.pong(), 200);
    try {
      await publishUntilNoConnection(srv, 'flood', 'z'.repeat(256 * 1024));
    } finally {
      clearInterval(pongs);
    }
    expect(srv.app.hub.subscriptionCount).toBe(0);
    expectReleasedByKernel(srv, peer.socket);
    expect(peer.invalid).toEqual([]);
    peer.destroy();
  });

  it('resets an SSE stream that reads nothing once the budget ends it, instead of holding its socket', async () => {
    await using srv = await startServer({ ...FAST_PINGS, HUBBUB_MAX_QUEUE_BYTES: String(MB) });
    const socket = await neverReadingSse(srv, 'flood');
    await publishUntilNoConnection(srv, 'flood', 'z'.repeat(256 * 1024));
    expect(srv.app.hub.subscriptionCount).toBe(0);
    expectReleasedByKernel(srv, socket);
    socket.destroy();
  });

  it('drops an SSE stream that reads nothing, under a budget it never reaches', async () => {
    await using srv = await startServer({ ...FAST_PINGS, HUBBUB_MAX_QUEUE_BYTES: String(1024 * MB) });
    const socket = await neverReadingSse(srv, 'flood');
    await publishUntilNoConnection(srv, 'flood', 'z'.repeat(256 * 1024));
    expect(srv.app.hub.subscriptionCount).toBe(0);
    expectReleasedByKernel(srv, socket);
    socket.destroy();
  });
});
