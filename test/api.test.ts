import { describe, expect, it } from 'vitest';
import { BroadcastResult, ChannelsResponse, HistoryResponse, InfoResponse } from '../contract/index.js';
import { startServer } from './support/server.js';
import { connectWs } from './support/ws-client.js';

const body = (v: unknown) => ({ method: 'POST', body: JSON.stringify(v) });

describe('REST API', () => {
  it('publishes and returns the assigned position', async () => {
    await using srv = await startServer();
    const a = await srv.publish('orders:42', { status: 'paid' });
    const b = await srv.publish('orders:42', null);
    expect(b).toEqual({ channel: 'orders:42', epoch: a.epoch, offset: 2 });
  });

  it('publishes once for a repeated idempotency key', async () => {
    await using srv = await startServer();
    const a = await srv.publish('jobs', 'done', { idempotencyKey: 'job-17' });
    const b = await srv.publish('jobs', 'done', { idempotencyKey: 'job-17' });
    expect(b).toEqual(a);
    const h = HistoryResponse.parse(await (await srv.api('/api/channels/jobs/history')).json());
    expect(h.publications).toHaveLength(1);
  });

  it('broadcasts to several channels with one result each', async () => {
    await using srv = await startServer();
    await srv.publish('b', 'earlier');
    const res = await srv.api('/api/broadcast', body({ channels: ['a', 'b', 'c'], data: { hello: 1 } }));
    const r = BroadcastResult.parse(await res.json());
    expect(r.results.map((x) => ('offset' in x ? [x.channel, x.offset] : x))).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 1],
    ]);
  });

  it('broadcast retried with the same idempotency key publishes nothing twice and returns the first positions', async () => {
    await using srv = await startServer();
    await srv.publish('b', 'earlier');
    const send = async () =>
      BroadcastResult.parse(await (await srv.api('/api/broadcast', body({ channels: ['a', 'b'], data: 'once', idempotencyKey: 'job-9' }))).json());
    const first = await send();
    expect(first.results.map((x) => ('offset' in x ? [x.channel, x.offset] : x))).toEqual([['a', 1], ['b', 2]]);
    expect(await send()).toEqual(first);
    const h = HistoryResponse.parse(await (await srv.api('/api/channels/b/history')).json());
    expect(h.publications.map((p) => p.data)).toEqual(['earlier', 'once']);
  });

  it('serves history with since, limit and reverse', async () => {
    await using srv = await startServer();
    let epoch = '';
    for (let i = 1; i <= 6; i++) epoch = (await srv.publish('h:x', i)).epoch;
    const get = async (q: string) =>
      HistoryResponse.parse(await (await srv.api(`/api/channels/h:x/history${q}`)).json());
    expect((await get('')).publications.map((p) => p.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await get(`?since=${epoch}:4`)).toMatchObject({ epoch, offset: 6, publications: [{ offset: 5 }, { offset: 6 }] });
    expect((await get('?limit=2')).publications.map((p) => p.offset)).toEqual([1, 2]);
    expect((await get('?reverse=true&limit=2')).publications.map((p) => p.offset)).toEqual([6, 5]);
    const encoded = HistoryResponse.parse(await (await srv.api(`/api/channels/${encodeURIComponent('h:x')}/history`)).json());
    expect(encoded.offset).toBe(6);
  });

  it.each([
    ['?limit=0', 'query.limit'],
    ['?limit=abc', 'query.limit'],
    ['?since=nocolon', 'query.since'],
    ['?reverse=yes', 'query.reverse'],
    ['?unknown=1', 'query'],
  ])('refuses history query %s naming %s', async (q, path) => {
    await using srv = await startServer();
    const res = await srv.api(`/api/channels/a/history${q}`);
    expect(res.status).toBe(400);
    const err = await res.json();
    expect(err.code).toBe('bad_request');
    expect(err.issues[0].path).toBe(path);
  });

  it('lists channels with their local subscriber counts, and node info', async () => {
    await using srv = await startServer({ HUBBUB_NODE_ID: 'alpha' });
    const peer = await connectWs(srv.wsUrl);
    peer.send({ id: 1, type: 'subscribe', channel: 'room:1' });
    peer.send({ id: 2, type: 'subscribe', channel: 'room:2' });
    await peer.next('subscribed', (f) => f.channel === 'room:2');
    const channels = ChannelsResponse.parse(await (await srv.api('/api/channels')).json());
    expect(channels.channels.sort((a, b) => a.channel.localeCompare(b.channel))).toEqual([
      { channel: 'room:1', subscribers: 1 },
      { channel: 'room:2', subscribers: 1 },
    ]);
    const info = InfoResponse.parse(await (await srv.api('/api/info')).json());
    expect(info).toMatchObject({ node: 'alpha', connections: 1, subscriptions: 2, channels: 2 });
    expect(info.uptime).toBeGreaterThanOrEqual(0);
    await peer.close();
  });

  it('refuses data over the message size limit even when the body fits', async () => {
    await using srv = await startServer({ HUBBUB_MAX_MESSAGE_BYTES: '100' });
    const res = await srv.api('/api/publish', body({ channel: 'a', data: 'z'.repeat(150) }));
    expect(res.status).toBe(413);
    expect((await res.json()).message).toMatch(/limit is 100/);
  });
});
