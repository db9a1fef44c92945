// The `channels` claim of a connection token: the backend subscribes the connection to them, even
// where the namespace would refuse the client (a grant) — but never to another user's channel
// (`notifications:#bob` for ada), on any transport. SSE and poll refused such a token, while a
// WebSocket (connect frame or upgrade-time token) was subscribed to bob's channel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ErrorBody, PollResponse } from '../contract/index.js';
import { type ConfiguredServer, startConfigured } from './support/configured-server.js';
import { signToken } from './support/tokens.js';
import { readSse } from './support/sse-reader.js';
import { connectWs } from './support/ws-client.js';

let srv: ConfiguredServer;
let granting: string;
let trespassing: string;
beforeAll(async () => {
  srv = await startConfigured('memory', 'namespaces:\n  secret: { subscribe: token }\n');
  granting = await signToken(srv.secret, { sub: 'ada', channels: ['secret:x', 'notifications:#ada'] }, { expiresIn: 3600 });
  trespassing = await signToken(srv.secret, { sub: 'ada', channels: ['secret:x', 'notifications:#bob'] }, { expiresIn: 3600 });
});
afterAll(() => srv?.close());

const wsUrl = (query = '') => srv.url.replace('http', 'ws') + '/ws' + query;

/** The HTTP answer to a WebSocket upgrade that was refused; undefined when it was accepted. */
function refusedUpgrade(url: string): Promise<{ status: number; body: unknown } | undefined> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    ws.on('open', () => {
      ws.close();
      resolve(undefined);
    });
    ws.on('error', (err) => (err.message.includes('Unexpected server response') ? undefined : reject(err)));
  });
}

describe('channels listed in the connection token', () => {
  it('are granted on every transport, the namespace notwithstanding', async () => {
    const poll = await fetch(`${srv.url}/poll?timeout=0`, { headers: { authorization: `Bearer ${granting}` } });
    expect(PollResponse.parse(await poll.json()).subscriptions.map((s) => s.channel)).toEqual(['secret:x', 'notifications:#ada']);
    const ws = await connectWs(wsUrl());
    try {
      ws.send({ id: 1, type: 'connect', token: granting });
      await ws.next('connected', (f) => f.id === 1);
      await ws.next('subscribed', (f) => f.channel === 'secret:x');
      await ws.next('subscribed', (f) => f.channel === 'notifications:#ada');
    } finally {
      await ws.close();
    }
  });

  it('listed twice are subscribed once (poll answered 503; SSE sent two subscribed events and a cursor entry that never moved)', async () => {
    const twice = await signToken(srv.secret, { sub: 'ada', channels: ['notifications:#ada', 'notifications:#ada'] }, { expiresIn: 3600 });
    const poll = await fetch(`${srv.url}/poll?timeout=0`, { headers: { authorization: `Bearer ${twice}` } });
    expect(poll.status).toBe(200);
    expect(PollResponse.parse(await poll.json()).subscriptions.map((s) => s.channel)).toEqual(['notifications:#ada']);
    const abort = new AbortController();
    try {
      const sse = await fetch(`${srv.url}/sse?token=${twice}`, { signal: abort.signal });
      const events: string[] = [];
      for await (const ev of readSse(sse.body!)) {
        events.push(ev.event === 'publication' ? `publication id ${ev.id?.replace(/^[^:,]*:/, '<epoch>:')}` : ev.event);
        if (ev.event === 'subscribed') await srv.publish('notifications:#ada', 'hi');
        if (ev.event === 'publication' || ev.event === 'disconnect') break;
      }
      expect(events).toEqual(['connected', 'subscribed', 'publication id <epoch>:1']);
    } finally {
      abort.abort();
    }
  });

  it('sse and poll: another user channel in the list refuses the request (403 forbidden)', async () => {
    for (const path of ['/poll?timeout=0', `/sse?token=${trespassing}`]) {
      const res = await fetch(srv.url + path, { headers: path.startsWith('/poll') ? { authorization: `Bearer ${trespassing}` } : {} });
      expect([res.status, ErrorBody.parse(await res.json()).code]).toEqual([403, 'forbidden']);
    }
  });

  it('websocket connect frame: refused with forbidden, and bob\u2019s channel stays closed to the connection', async () => {
    const ws = await connectWs(wsUrl());
    try {
      ws.send({ id: 1, type: 'connect', token: trespassing });
      const reply = await Promise.race([ws.next('error', (f) => f.id === 1), ws.next('connected', (f) => f.id === 1)]);
      expect(reply).toMatchObject({ type: 'error', code: 'forbidden' });
      // Commands run in order: had the token subscribed it, this would be already_subscribed.
      ws.send({ id: 2, type: 'subscribe', channel: 'notifications:#bob' });
      expect(await ws.next('error', (f) => f.id === 2)).toMatchObject({ code: 'forbidden' });
      expect(ws.frames.filter((f) => f.type === 'subscribed')).toEqual([]);
    } finally {
      await ws.close();
    }
  });

  it('websocket upgrade-time token: the upgrade is refused with 403 forbidden', async () => {
    const answer = await refusedUpgrade(wsUrl(`?token=${trespassing}`));
    expect(answer).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect(await refusedUpgrade(wsUrl(`?token=${granting}`))).toBeUndefined();
  });
});
