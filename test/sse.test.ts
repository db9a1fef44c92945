import { describe, expect, it, vi } from 'vitest';
import { DISCONNECT_TABLE, PresenceResponse, SseConnectedEvent, SsePingEvent, parseCursor } from '../contract/index.js';
import { startServer } from './support/server.js';
import { type SseEvent, readSse } from './support/sse-reader.js';

async function stream(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const events: SseEvent[] = [];
  let ended = false;
  const pump = (async () => {
    try {
      for await (const ev of readSse(res.body!)) events.push(ev);
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
    ended = true;
  })();
  return {
    res,
    events,
    ended: () => ended,
    close: async () => {
      abort.abort();
      await pump;
    },
  };
}

describe('SSE transport', () => {
  it('sends the headers that keep proxies from buffering', async () => {
    await using srv = await startServer();
    const s = await stream(`${srv.url}/sse?channels=a`);
    expect(s.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(s.res.headers.get('x-accel-buffering')).toBe('no');
    expect(s.res.headers.get('cache-control')).toContain('no-cache');
    await s.close();
  });

  it('makes every event id a cursor over all channels of the stream', async () => {
    await using srv = await startServer();
    const s = await stream(`${srv.url}/sse?channels=a,b`);
    await vi.waitFor(() => expect(s.events.filter((e) => e.event === 'subscribed')).toHaveLength(2));
    await srv.publish('b', 'one');
    await srv.publish('a', 'two');
    await vi.waitFor(() => expect(s.events.filter((e) => e.event === 'publication')).toHaveLength(2));
    const last = s.events.at(-1)!;
    const positions = parseCursor(last.id!, 2)!;
    expect(positions.map((p) => p?.offset)).toEqual([1, 1]);
    await s.close();
  });

  it('resumes from Last-Event-ID exactly where the previous stream stopped', async () => {
    await using srv = await startServer();
    const first = await stream(`${srv.url}/sse?channels=x,y`);
    await srv.publish('x', 1);
    await srv.publish('y', 2);
    await vi.waitFor(() => expect(first.events.filter((e) => e.event === 'publication')).toHaveLength(2));
    const lastId = first.events.at(-1)!.id!;
    await first.close();
    await srv.publish('x', 3);
    await srv.publish('y', 4);
    // The query cursor is older; the header wins, as it does when EventSource reconnects.
    const again = await stream(`${srv.url}/sse?channels=x,y&cursor=,`, { 'last-event-id': lastId });
    await vi.waitFor(() => expect(again.events.filter((e) => e.event === 'publication')).toHaveLength(2));
    const subscribed = again.events.filter((e) => e.event === 'subscribed').map((e) => JSON.parse(e.data));
    expect(subscribed.map((r) => r.recovered)).toEqual([true, true]);
    expect(again.events.filter((e) => e.event === 'publication').map((e) => JSON.parse(e.data).data)).toEqual([3, 4]);
    await again.close();
  });

  it('keeps the requested positions of channels not yet subscribed in the first event ids (regression)', async () => {
    await using srv = await startServer();
    const a = await srv.publish('a', 1);
    const b = await srv.publish('b', 1);
    const s = await stream(`${srv.url}/sse?channels=a,b&cursor=${a.epoch}:1,${b.epoch}:1`);
    await vi.waitFor(() => expect(s.events.filter((e) => e.event === 'subscribed')).toHaveLength(2));
    // The first subscribed event (channel a) must still carry b's requested position.
    expect(s.events.find((e) => e.event === 'subscribed')!.id).toBe(`${a.epoch}:1,${b.epoch}:1`);
    await s.close();
  });

  it('starts with retry, then a connected event naming the client id that presence lists, without an id line', async () => {
    await using srv = await startServer({ HUBBUB_NODE_ID: 'solo', HUBBUB_PING_INTERVAL: '7' });
    const res = await fetch(`${srv.url}/sse?channels=room`);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: subscribed')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toMatch(/^retry: \d+\n\nevent: connected\ndata: [^\n]+\n\nid: [^\n]+\nevent: subscribed\n/);

    const s = await stream(`${srv.url}/sse?channels=room`);
    await vi.waitFor(() => expect(s.events.map((e) => e.event)).toEqual(['connected', 'subscribed']));
    const connected = SseConnectedEvent.parse(JSON.parse(s.events[0]!.data));
    expect(connected).toMatchObject({ node: 'solo', pingInterval: 7000 });
    // No id: the cursor (Last-Event-ID) is only ever moved by subscribed and publication events.
    expect(s.events[0]!.id).toBeUndefined();
    const presence = PresenceResponse.parse(await (await srv.api('/api/channels/room/presence')).json());
    expect(presence.clients.map((c) => [c.client, c.transport])).toEqual([[connected.client, 'sse']]);
    await s.close();
  });

  it('sends a ping event without an id line every ping interval', async () => {
    await using srv = await startServer({ HUBBUB_PING_INTERVAL: '1' });
    const s = await stream(`${srv.url}/sse?channels=a`);
    await vi.waitFor(() => expect(s.events.filter((e) => e.event === 'ping')).toHaveLength(2), { timeout: 5_000 });
    for (const ping of s.events.filter((e) => e.event === 'ping')) {
      expect(SsePingEvent.parse(JSON.parse(ping.data))).toEqual({});
      expect(ping.id).toBeUndefined();
    }
    await s.close();
  });

  it('still sends ping events after a restart on the same port (regression: the timer died with stop())', async () => {
    await using srv = await startServer({ HUBBUB_PING_INTERVAL: '1' });
    await srv.restart();
    const s = await stream(`${srv.url}/sse?channels=a`);
    await vi.waitFor(() => expect(s.events.map((e) => e.event)).toContain('ping'), { timeout: 5_000 });
    await s.close();
  });

  it('ends the stream with a disconnect event carrying the shutdown code', async () => {
    await using srv = await startServer();
    const s = await stream(`${srv.url}/sse?channels=a`);
    await vi.waitFor(() => expect(s.events.map((e) => e.event)).toEqual(['connected', 'subscribed']));
    await srv.app.stop();
    await vi.waitFor(() => expect(s.ended()).toBe(true));
    const ev = s.events.at(-1)!;
    expect(ev.event).toBe('disconnect');
    expect(JSON.parse(ev.data)).toEqual({
      code: DISCONNECT_TABLE.shutdown.code,
      name: 'shutdown',
      reason: DISCONNECT_TABLE.shutdown.reason,
      reconnect: true,
    });
  });

  it.each([
    ['channels=a,a', 'bad_request'],
    ['channels=a&cursor=x:1:2', 'invalid_cursor'],
    ['channels=a,b&cursor=e:1', 'invalid_cursor'],
    ['channels=', 'bad_request'],
    ['cursor=e:1', 'bad_request'],
  ])('refuses %s before the stream starts', async (query, code) => {
    await using srv = await startServer();
    const res = await fetch(`${srv.url}/sse?${query}`);
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe(code);
  });
});
