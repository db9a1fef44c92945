// A user disconnected through one node's API while connected to another: every node closes the
// user's connections with the terminal 4500 (SSE: its disconnect event), the API counts them all,
// and the token the user held is refused everywhere afterwards; other users stay connected.
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { ErrorBody, InfoResponse, SseDisconnectEvent } from '../contract/index.js';
import { type InProcessNode, startCluster } from './support/cluster.js';
import { WAIT } from './support/cluster-clients.js';
import { readSse } from './support/sse-reader.js';
import { signToken } from './support/tokens.js';
import { type RawWs, connectWs } from './support/ws-client.js';

const wsUrl = (node: InProcessNode) => node.url.replace('http', 'ws') + '/ws';

async function wsAs(node: InProcessNode, token: string): Promise<RawWs> {
  const ws = await connectWs(wsUrl(node));
  ws.send({ id: 1, type: 'connect', token });
  await ws.next('connected', (f) => f.id === 1);
  ws.send({ id: 2, type: 'subscribe', channel: 'news' });
  await ws.next('subscribed', (f) => f.id === 2);
  return ws;
}

/** An SSE stream as `token`'s user; `ended` resolves with its disconnect event. */
async function sseAs(node: InProcessNode, token: string, abort: AbortController) {
  const res = await fetch(`${node.url}/sse?${new URLSearchParams({ channels: 'news', token })}`, { signal: abort.signal });
  expect(res.status).toBe(200);
  // One iterator for both loops: leaving a for-await would close the stream.
  const events = readSse(res.body!);
  const next = async (event: string) => {
    for (let r = await events.next(); !r.done; r = await events.next()) if (r.value.event === event) return r.value;
    return undefined;
  };
  await next('subscribed');
  const ended = next('disconnect').then((ev) => ev && SseDisconnectEvent.parse(JSON.parse(ev.data)));
  return { ended };
}

/** How each door of `node` answers `token`: the status and error code, 'ok' when accepted. */
async function doors(node: InProcessNode, token: string): Promise<Record<string, string>> {
  const http = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(node.url + path, init);
    return res.status === 200 ? 'ok' : `${res.status} ${ErrorBody.parse(await res.json()).code}`;
  };
  const upgrade = () =>
    new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl(node)}?token=${token}`);
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(`${res.statusCode} ${ErrorBody.parse(JSON.parse(Buffer.concat(chunks).toString())).code}`));
      });
      ws.on('open', () => (ws.close(), resolve('ok')));
      ws.on('error', (err) => (err.message.startsWith('Unexpected server response') ? undefined : reject(err)));
    });
  const connectFrame = async () => {
    const ws = await connectWs(wsUrl(node));
    ws.send({ id: 1, type: 'connect', token });
    const reply = await Promise.race([ws.next('connected', (f) => f.id === 1), ws.next('error', (f) => f.id === 1)]);
    await ws.close();
    return reply.type === 'error' ? reply.code : 'ok';
  };
  const abort = new AbortController();
  try {
    return {
      poll: await http('/poll?channels=news&timeout=0', { headers: { authorization: `Bearer ${token}` } }),
      sse: await http(`/sse?channels=news&token=${token}`, { signal: abort.signal }),
      upgrade: await upgrade(),
      connect: await connectFrame(),
    };
  } finally {
    abort.abort();
  }
}

describe('disconnecting a user through another node', () => {
  it('closes their WebSocket and SSE on every node with 4500, answers their waiting poll, counts them all, and refuses their old token everywhere', async () => {
    const secret = randomBytes(24).toString('hex');
    await using cluster = await startCluster(2, { HUBBUB_TOKEN_SECRET: secret });
    const [a, b] = cluster.nodes as [InProcessNode, InProcessNode];
    // A must know B, or its scatter-gather would not wait for B's count.
    await vi.waitFor(async () => expect(InfoResponse.parse(await (await a.api('/api/info')).json()).nodes.map((n) => n.node)).toEqual(['n1', 'n2']), WAIT);

    // Signed before the disconnect (tokens of the disconnect's own second still pass).
    const old = await signToken(secret, { sub: 'ada' }, { expiresIn: 3600, issuedAt: Math.floor(Date.now() / 1000) - 5 });
    const bob = await signToken(secret, { sub: 'bob' }, { expiresIn: 3600 });
    const abort = new AbortController();
    try {
      const onB = await wsAs(b, old);
      const sseOnB = await sseAs(b, old, abort);
      const onA = await wsAs(a, old);
      const bobOnB = await wsAs(b, bob);
      // A long-poll waiting on B (nothing new since its cursor) is a live connection too.
      const first = await fetch(`${b.url}/poll?channels=news&timeout=0`, { headers: { authorization: `Bearer ${old}` } });
      const { cursor } = (await first.json()) as { cursor: string };
      const waiting = fetch(`${b.url}/poll?${new URLSearchParams({ channels: 'news', cursor })}`, { headers: { authorization: `Bearer ${old}` } });
      await vi.waitFor(() => expect(b.app.registries().transports.poll).toBe(1), WAIT);

      const res = await a.api('/api/users/ada/disconnect', { method: 'POST' });
      expect([res.status, await res.json()]).toEqual([200, { user: 'ada', connections: 4 }]);
      // Answered now (the server's poll timeout is 25 s), with nothing: its next request meets the refusal.
      expect(await (await waiting).json()).toMatchObject({ cursor, publications: [] });
      expect(await onB.closeCode).toBe(4500);
      expect(await sseOnB.ended).toEqual({ code: 4500, name: 'disconnected_by_server', reason: expect.any(String), reconnect: false });
      expect(await onA.closeCode).toBe(4500);

      // bob is untouched: his connection on B still gets publications.
      const { offset } = await b.publish('news', 'still here');
      expect(await bobOnB.next('publication')).toMatchObject({ offset, data: 'still here' });
      await bobOnB.close();

      const refused = { poll: '401 token_invalid', sse: '401 token_invalid', upgrade: '401 token_invalid', connect: 'token_invalid' };
      expect(await doors(b, old)).toEqual(refused);
      expect(await doors(a, old)).toEqual(refused);
      // A token signed after the disconnect is the way back in.
      const fresh = await signToken(secret, { sub: 'ada' }, { expiresIn: 3600 });
      expect(await doors(b, fresh)).toEqual({ poll: 'ok', sse: 'ok', upgrade: 'ok', connect: 'ok' });
    } finally {
      abort.abort();
    }
  });
});
