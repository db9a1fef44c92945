// The clock leeway (--token-leeway) tolerates a backend whose clock is behind ours: a token whose
// exp passed less than the leeway ago is accepted. A connection it opened must then live until
// the leeway is used up too, like the verifier says — not be accepted and closed with 4004 in
// the same breath (which sent long-polls into a loop of instant empty answers).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PollResponse, type Publication } from '../contract/index.js';
import { type ConfiguredServer, startConfigured } from './support/configured-server.js';
import { readSse } from './support/sse-reader.js';
import { signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

const LEEWAY_S = 60;
let srv: ConfiguredServer;
/** ada's token whose exp passed 2 s ago: inside the leeway. */
let late: string;
beforeAll(async () => {
  srv = await startConfigured('memory', 'namespaces:\n  feed: { subscribe: authenticated }\n', { HUBBUB_TOKEN_LEEWAY: String(LEEWAY_S) });
  late = await signToken(srv.secret, { sub: 'ada' }, { expiresIn: -2, issuedAt: Math.floor(Date.now() / 1000) - 600 });
});
afterAll(() => srv?.close());

describe('a token inside the clock leeway', () => {
  it('websocket: keeps the connection it was accepted on', async () => {
    const peer = await connectWs(srv.url.replace('http', 'ws') + '/ws');
    try {
      peer.send({ id: 1, type: 'connect', token: late });
      expect(await peer.next('connected', (f) => f.id === 1)).toMatchObject({ user: 'ada' });
      peer.send({ id: 2, type: 'subscribe', channel: 'feed:ws' });
      await Promise.race([peer.next('subscribed', (f) => f.id === 2), peer.closeCode.then((code) => Promise.reject(new Error(`closed ${code}`)))]);
      const { offset } = await srv.publish('feed:ws', 'after');
      const got = await Promise.race([peer.next('publication'), peer.closeCode.then((code) => Promise.reject(new Error(`closed ${code}`)))]);
      expect(got).toMatchObject({ offset, data: 'after' });
    } finally {
      await peer.close();
    }
  });

  it('sse: keeps the stream it was accepted on', async () => {
    const abort = new AbortController();
    try {
      const res = await fetch(`${srv.url}/sse?${new URLSearchParams({ channels: 'feed:sse', token: late })}`, { signal: abort.signal });
      expect(res.status).toBe(200);
      const events: string[] = [];
      for await (const ev of readSse(res.body!)) {
        events.push(ev.event === 'disconnect' ? `disconnect ${ev.data}` : ev.event);
        if (ev.event === 'subscribed') await srv.publish('feed:sse', 'after');
        if (ev.event === 'publication' || ev.event === 'disconnect') break;
      }
      expect(events).toEqual(['connected', 'subscribed', 'publication']);
    } finally {
      abort.abort();
    }
  });

  it('poll: waits for news like any poll instead of answering at once', async () => {
    const headers = { authorization: `Bearer ${late}` };
    const first = PollResponse.parse(await (await fetch(`${srv.url}/poll?channels=feed:poll`, { headers })).json());
    const waiting = fetch(`${srv.url}/poll?${new URLSearchParams({ channels: 'feed:poll', cursor: first.cursor, timeout: '10000' })}`, { headers });
    await vi.waitFor(() => expect(srv.app.registries().transports.poll).toBe(1), { timeout: 5_000, interval: 5 });
    const { offset } = await srv.publish('feed:poll', 'after');
    const body = PollResponse.parse(await (await waiting).json());
    expect(body.publications.map((p: Publication) => [p.offset, p.data])).toEqual([[offset, 'after']]);
  });
});
