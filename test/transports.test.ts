import { afterEach, describe, expect, it, vi } from 'vitest';
import { ERROR_TABLE } from '../contract/index.js';
import { type RawSession, TRANSPORT_NAMES, openSession } from './support/raw-clients.js';
import { type TestServer, startServer } from './support/server.js';

/**
 * One behaviour suite, run over every transport: the same delivery and recovery semantics
 * on WebSocket, SSE and long-poll. Transport-specific cases live in their own files.
 */
describe.each(TRANSPORT_NAMES)('transport behaviour: %s', (transport) => {
  let srv: TestServer;
  const sessions: RawSession[] = [];
  const open = async (channels: string[], since?: Parameters<typeof openSession>[3]) => {
    const s = await openSession(transport, srv.url, channels, since);
    sessions.push(s);
    return s;
  };

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    await srv?.close();
  });

  it('subscribes from now and receives publications in order', async () => {
    srv = await startServer();
    const before = await srv.publish('news', 'before subscribing');
    const s = await open(['news']);
    expect(s.results).toEqual([{ channel: 'news', epoch: before.epoch, offset: 1, recovered: false }]);
    for (let i = 1; i <= 25; i++) await srv.publish('news', { n: i });
    await vi.waitFor(() => expect(s.publications).toHaveLength(25));
    expect(s.publications.map((p) => (p.data as { n: number }).n)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(s.publications.map((p) => p.offset)).toEqual(Array.from({ length: 25 }, (_, i) => i + 2));
  });

  it('carries several channels on one connection and keeps each in order', async () => {
    srv = await startServer();
    const s = await open(['chat:a', 'chat:b', 'user:42']);
    expect(s.results.map((r) => r.channel).sort()).toEqual(['chat:a', 'chat:b', 'user:42']);
    for (let i = 0; i < 10; i++) {
      await srv.publish('chat:a', `a${i}`);
      await srv.publish('chat:b', `b${i}`);
    }
    await srv.publish('user:42', { tags: true }, { tags: { kind: 'notice' } });
    await srv.publish('elsewhere', 'not subscribed');
    await vi.waitFor(() => expect(s.publications).toHaveLength(21));
    const of = (c: string) => s.publications.filter((p) => p.channel === c).map((p) => p.data);
    expect(of('chat:a')).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
    expect(of('chat:b')).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`));
    expect(s.publications.find((p) => p.channel === 'user:42')?.tags).toEqual({ kind: 'notice' });
  });

  it('recovers every missed publication after a reconnect, then goes live', async () => {
    srv = await startServer();
    const first = await open(['room']);
    for (let i = 1; i <= 3; i++) await srv.publish('room', i);
    await vi.waitFor(() => expect(first.publications).toHaveLength(3));
    const position = first.position('room')!;
    await first.close();
    for (let i = 4; i <= 9; i++) await srv.publish('room', i);

    const again = await open(['room'], [position]);
    expect(again.results).toEqual([{ channel: 'room', epoch: position.epoch, offset: 3, recovered: true }]);
    await vi.waitFor(() => expect(again.publications).toHaveLength(6));
    await srv.publish('room', 10);
    await vi.waitFor(() => expect(again.publications).toHaveLength(7));
    expect(again.publications.map((p) => p.data)).toEqual([4, 5, 6, 7, 8, 9, 10]);
  });

  it('refuses recovery with recovered:false and the current position when history moved on', async () => {
    srv = await startServer({ HUBBUB_HISTORY_SIZE: '5' });
    const first = await open(['ticker']);
    await srv.publish('ticker', 1);
    await vi.waitFor(() => expect(first.publications).toHaveLength(1));
    const position = first.position('ticker')!;
    await first.close();
    for (let i = 2; i <= 12; i++) await srv.publish('ticker', i);

    const again = await open(['ticker'], [position]);
    expect(again.results).toEqual([{ channel: 'ticker', epoch: position.epoch, offset: 12, recovered: false }]);
    await srv.publish('ticker', 13);
    await vi.waitFor(() => expect(again.publications.map((p) => p.data)).toEqual([13]));
  });

  it('refuses recovery from another epoch', async () => {
    srv = await startServer();
    await srv.publish('c', 1);
    const s = await open(['c'], [{ epoch: 'gone', offset: 1 }]);
    expect(s.results[0]).toMatchObject({ channel: 'c', offset: 1, recovered: false });
    expect(s.results[0]!.epoch).not.toBe('gone');
  });

  it('releases the hub subscription when the client goes away', async () => {
    srv = await startServer();
    const s = await open(['bye']);
    // A long-poll holds its subscription only while a request waits, so wait for one.
    await vi.waitFor(() => expect(srv.app.hub.channelCounts()).toEqual([{ channel: 'bye', subscribers: 1 }]));
    await s.close();
    sessions.length = 0;
    await vi.waitFor(() => expect(srv.app.hub.subscriptionCount).toBe(0));
  });

  it('does not disturb other subscribers when one sends bad input', async () => {
    srv = await startServer();
    const good = await open(['steady']);
    const bad = await fetch(`${srv.url}/${transport === 'websocket' ? 'poll' : transport}?channels=bad%20name`);
    expect(bad.status).toBe(ERROR_TABLE.invalid_channel.status);
    await srv.publish('steady', 'still here');
    await vi.waitFor(() => expect(good.publications.map((p) => p.data)).toEqual(['still here']));
  });
});
