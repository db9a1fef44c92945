// A connection token that runs out in the middle of a publication stream, spoken in each
// transport's raw protocol by a client that does not refresh ahead: the server ends the
// connection (WebSocket 4004, SSE `disconnect` token_expired) or refuses the next poll (401
// token_expired), the client comes back with a fresh token from where it was, and nothing is lost.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PollResponse, type Publication, SseDisconnectEvent, SseSubscribedEvent, type SubscribeResult } from '../contract/index.js';
import type { ConfiguredServer } from './support/configured-server.js';
import { adaToken, expectEveryOffsetOnce, publishStream, startExpiryServer } from './support/expiry-stream.js';
import { readSse } from './support/sse-reader.js';
import { type RawWs, connectWs } from './support/ws-client.js';

let srv: ConfiguredServer;
beforeAll(async () => {
  srv = await startExpiryServer();
});
afterAll(() => srv?.close());

describe('token expiry mid-stream, raw protocol', () => {
  it('websocket without refresh: closed with 4004 at exp; a fresh token and `since` recover every publication', async () => {
    const CHANNEL = 'feed:ws';
    const publications = (peer: RawWs) => peer.frames.filter((f): f is Publication & { type: 'publication' } => f.type === 'publication');
    const first = await connectWs(srv.url.replace('http', 'ws') + '/ws');
    first.send({ id: 1, type: 'connect', token: await adaToken(srv, 2) });
    await first.next('connected', (f) => f.id === 1);
    first.send({ id: 2, type: 'subscribe', channel: CHANNEL });
    const start = await first.next('subscribed', (f) => f.id === 2);
    let closed = false;
    void first.closeCode.then(() => (closed = true));
    const published = publishStream(srv, CHANNEL, () => closed);

    expect(await first.closeCode).toBe(4004);
    const before = publications(first);
    const last = before.at(-1) ?? start;
    const second = await connectWs(srv.url.replace('http', 'ws') + '/ws');
    try {
      second.send({ id: 1, type: 'connect', token: await adaToken(srv, 3600) });
      await second.next('connected', (f) => f.id === 1);
      second.send({ id: 2, type: 'subscribe', channel: CHANNEL, since: { epoch: last.epoch, offset: last.offset } });
      expect(await second.next('subscribed', (f) => f.id === 2)).toMatchObject({ recovered: true, offset: last.offset });
      const n = await published;
      await expectEveryOffsetOnce(() => [...before, ...publications(second)].map((p) => p.offset), n);
    } finally {
      await second.close();
    }
  });

  it('sse: the stream ends with the token_expired disconnect event; Last-Event-ID and a fresh token resume it', async () => {
    const CHANNEL = 'feed:sse';
    const offsets: number[] = [];
    const subscribed: SubscribeResult[] = [];
    let lastEventId: string | undefined;
    const abort = new AbortController();
    /** Reads one stream to its end; resolves with its disconnect event, if any. */
    const stream = async (token: string, resumeFrom?: string) => {
      const headers: Record<string, string> = resumeFrom === undefined ? {} : { 'last-event-id': resumeFrom };
      const res = await fetch(`${srv.url}/sse?${new URLSearchParams({ channels: CHANNEL, token })}`, { headers, signal: abort.signal });
      expect(res.status).toBe(200);
      for await (const ev of readSse(res.body!)) {
        if (ev.id !== undefined) lastEventId = ev.id;
        if (ev.event === 'subscribed') subscribed.push(SseSubscribedEvent.parse(JSON.parse(ev.data)));
        if (ev.event === 'publication') offsets.push((JSON.parse(ev.data) as Publication).offset);
        if (ev.event === 'disconnect') return SseDisconnectEvent.parse(JSON.parse(ev.data));
      }
      return undefined;
    };
    try {
      let ended = false;
      const first = stream(await adaToken(srv, 2)).finally(() => (ended = true));
      await expectSoon(() => subscribed.length === 1);
      const published = publishStream(srv, CHANNEL, () => ended);
      expect(await first).toMatchObject({ code: 4004, name: 'token_expired', reconnect: true });
      const second = stream(await adaToken(srv, 3600), lastEventId).catch((err: unknown) => (abort.signal.aborted ? undefined : Promise.reject(err)));
      const n = await published;
      await expectEveryOffsetOnce(() => offsets, n);
      expect(subscribed.map((s) => s.recovered)).toEqual([false, true]);
      abort.abort();
      await second;
    } finally {
      abort.abort();
    }
  });

  it('poll: the next request gets 401 token_expired; the same cursor with a fresh token gets every publication', async () => {
    const CHANNEL = 'feed:poll';
    const offsets: number[] = [];
    const refusals: Array<{ status: number; code: unknown; cursor: string | undefined; retriedWith?: string | undefined }> = [];
    let token = await adaToken(srv, 2);
    let cursor: string | undefined;
    let wanted = Number.POSITIVE_INFINITY;
    const poll = async () => {
      // A short wait, so the loop notices soon that everything arrived.
      const query = new URLSearchParams({ channels: CHANNEL, timeout: '1000', ...(cursor === undefined ? {} : { cursor }) });
      const res = await fetch(`${srv.url}/poll?${query}`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) {
        refusals.push({ status: res.status, code: ((await res.json()) as { code?: unknown }).code, cursor });
        token = await adaToken(srv, 3600);
        return;
      }
      const body = PollResponse.parse(await res.json());
      const refused = refusals.at(-1);
      if (refused && !('retriedWith' in refused)) refused.retriedWith = cursor;
      offsets.push(...body.publications.map((p) => p.offset));
      cursor = body.cursor;
    };
    await poll();
    const loop = (async () => {
      while (offsets.length < wanted) await poll();
    })();
    wanted = await publishStream(srv, CHANNEL, () => refusals.length > 0);
    await loop;
    await expectEveryOffsetOnce(() => offsets, wanted);
    expect(refusals).toEqual([{ status: 401, code: 'token_expired', cursor: expect.any(String), retriedWith: refusals[0]?.cursor }]);
  });
});

/** Resolves once `done()` holds (checked every 10 ms, 10 s at most). */
async function expectSoon(done: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(done()).toBe(true), { timeout: 10_000, interval: 10 });
}
