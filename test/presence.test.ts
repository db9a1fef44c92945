import { describe, expect, it, vi } from 'vitest';
import { createPublisher } from '../client/publisher.js';
import { PresenceResponse } from '../contract/index.js';
import { openSession } from './support/raw-clients.js';
import { TEST_API_KEY, startServer } from './support/server.js';
import { serverSecret, signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

describe('presence on one node', () => {
  it('lists WebSocket and SSE subscribers with their node and transport, and forgets them when they leave', async () => {
    await using srv = await startServer({ HUBBUB_NODE_ID: 'solo' });
    const presence = async () => PresenceResponse.parse(await (await srv.api('/api/channels/room:1/presence')).json());
    expect(await presence()).toEqual({ channel: 'room:1', clients: [] });

    const ws = await connectWs(srv.wsUrl);
    ws.send({ id: 1, type: 'subscribe', channel: 'room:1' });
    await ws.next('subscribed');
    const sse = await openSession('sse', srv.url, ['room:1']);
    const { clients } = await presence();
    expect(clients.map((c) => [c.node, c.transport, c.user])).toEqual([
      ['solo', 'websocket', null],
      ['solo', 'sse', null],
    ]);
    const connected = ws.frames[0] as { client: string };
    expect(clients[0]!.client).toBe(connected.client);

    await ws.close();
    await vi.waitFor(async () => expect((await presence()).clients.map((c) => c.transport)).toEqual(['sse']));
    await sse.close();
    await vi.waitFor(async () => expect((await presence()).clients).toEqual([]));
  });

  it('is available to backends through the typed publisher', async () => {
    await using srv = await startServer({ HUBBUB_NODE_ID: 'solo' });
    const sse = await openSession('sse', srv.url, ['room:2']);
    const publisher = createPublisher({ url: srv.url, apiKey: TEST_API_KEY });
    const result = await publisher.presence('room:2');
    expect(result.channel).toBe('room:2');
    expect(result.clients.map((c) => [c.node, c.transport])).toEqual([['solo', 'sse']]);
    await expect(createPublisher({ url: srv.url, apiKey: 'wrong-key-0123456789' }).presence('room:2')).rejects.toMatchObject({
      name: 'HubbubError',
      code: 'unauthorized',
    });
    await sse.close();
  });

  it('publishes joins and leaves of identified users, in configured namespaces only', async () => {
    await using srv = await startServer({ HUBBUB_PRESENCE_EVENTS: 'chat' });
    const watcher = await openSession('websocket', srv.url, ['chat:lobby', 'news']);
    const peer = await connectWs(srv.wsUrl);
    peer.send({ id: 1, type: 'connect', token: await signToken(serverSecret(srv.config), { sub: 'ada', info: { name: 'Ada' } }) });
    await peer.next('connected', (f) => f.id === 1);
    peer.send({ id: 2, type: 'subscribe', channel: 'chat:lobby' });
    peer.send({ id: 3, type: 'subscribe', channel: 'news' });
    await peer.next('subscribed', (f) => f.channel === 'news');
    const { clients } = PresenceResponse.parse(await (await srv.api('/api/channels/chat:lobby/presence')).json());
    expect(clients.map((c) => [c.user, c.info])).toEqual(expect.arrayContaining([['ada', { name: 'Ada' }], [null, undefined]]));
    await peer.close();
    // The anonymous watcher itself joined too, and announced nothing: anonymous churn must not fill history.
    await vi.waitFor(() =>
      expect(watcher.publications.map((p) => [p.channel, (p.data as { type: string; user: string }).type, (p.data as { user: string }).user, p.tags?.hubbub])).toEqual([
        ['chat:lobby', 'join', 'ada', 'join'],
        ['chat:lobby', 'leave', 'ada', 'leave'],
      ]),
    );
    await watcher.close();
  });
});
