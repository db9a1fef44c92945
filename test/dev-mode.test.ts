import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { DevTokenResponse } from '../contract/index.js';
import { accessNotes } from '../server/access-notes.js';
import { loadConfig } from '../server/config.js';
import { openSession } from './support/raw-clients.js';
import { type TestServer, startServer } from './support/server.js';
import { connectWs } from './support/ws-client.js';

// What development mode (no token key, no config file) gives the demo: dev tokens, a chat
// namespace that takes client publishes and announces joins and leaves with the user's name.

async function devToken(srv: TestServer, user: string, info?: unknown): Promise<string> {
  const res = await fetch(`${srv.url}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(info === undefined ? { user } : { user, info }),
  });
  expect(res.status).toBe(200);
  return DevTokenResponse.parse(await res.json()).token;
}

function clientPublish(srv: TestServer, channel: string, data: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  return fetch(`${srv.url}/publish`, { method: 'POST', headers, body: JSON.stringify({ channel, data }) });
}

describe('development mode', () => {
  it('lets a user with a dev token publish to the chat namespace, stamped with the name from the token', async () => {
    await using srv = await startServer();
    const watcher = await openSession('sse', srv.url, ['chat:lobby']);
    const token = await devToken(srv, 'ada', { name: 'Ada' });
    const res = await clientPublish(srv, 'chat:lobby', { text: 'hello' }, token);
    expect(res.status, await res.clone().text()).toBe(200);
    await vi.waitFor(() => expect(watcher.publications).toHaveLength(1));
    expect(watcher.publications[0]).toMatchObject({ data: { text: 'hello' }, publisher: { user: 'ada', client: expect.any(String), info: { name: 'Ada' } } });
    await watcher.close();
  });

  it('keeps every other namespace closed to client publishes, and the chat closed to anonymous ones', async () => {
    await using srv = await startServer();
    const token = await devToken(srv, 'ada');
    const other = await clientPublish(srv, 'news:today', { text: 'hi' }, token);
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ code: 'forbidden' });
    const anonymous = await clientPublish(srv, 'chat:lobby', { text: 'hi' });
    expect(anonymous.status).toBe(403);
    expect(await anonymous.json()).toMatchObject({ code: 'forbidden' });
  });

  it('says so in the start log; a config file gets neither the dev namespaces nor the note', () => {
    const dev = loadConfig({ env: { HUBBUB_API_KEY: 'k'.repeat(24) } });
    expect(dev.namespaces).toEqual({ chat: { publish: 'authenticated', joinLeave: true } });
    expect(accessNotes(dev).join('\n')).toMatch(/development mode.*namespace chat \(publish: authenticated, joinLeave: true\)/);

    const dir = mkdtempSync(join(tmpdir(), 'hubbub-dev-'));
    writeFileSync(join(dir, 'hubbub.yaml'), 'defaults:\n  presence: true\n');
    const prod = loadConfig({ env: { HUBBUB_API_KEY: 'k'.repeat(24), HUBBUB_CONFIG: join(dir, 'hubbub.yaml'), HUBBUB_TOKEN_SECRET: 's'.repeat(32) } });
    expect(prod.namespaces).toEqual({});
    expect(accessNotes(prod).join('\n')).not.toMatch(/development mode/);
  });

  it('nodes sharing one API key accept each other’s dev tokens (a dev cluster behind a balancer)', async () => {
    await using a = await startServer();
    await using b = await startServer();
    expect(a.config.devTokenSecret).toBe(b.config.devTokenSecret);
    expect(loadConfig({ env: { HUBBUB_API_KEY: 'another-key-0123456789' } }).devTokenSecret).not.toBe(a.config.devTokenSecret);
    const res = await clientPublish(b, 'chat:lobby', { text: 'minted on a' }, await devToken(a, 'ada'));
    expect(res.status, await res.clone().text()).toBe(200);
  });
});

describe('join and leave events', () => {
  it('carry the user’s info from the token, so a page can name who came and went', async () => {
    // A namespace of its own (--presence-events), so this checks the event data, not dev mode's chat.
    await using srv = await startServer({ HUBBUB_PRESENCE_EVENTS: 'room' });
    const watcher = await openSession('websocket', srv.url, ['room:1']);
    const peer = await connectWs(srv.wsUrl);
    peer.send({ id: 1, type: 'connect', token: await devToken(srv, 'ada', { name: 'Ada' }) });
    await peer.next('connected', (f) => f.id === 1);
    peer.send({ id: 2, type: 'subscribe', channel: 'room:1' });
    await peer.next('subscribed', (f) => f.channel === 'room:1');
    await peer.close();
    await vi.waitFor(() => expect(watcher.publications).toHaveLength(2));
    const client = expect.any(String);
    expect(watcher.publications.map((p) => p.data)).toEqual([
      { type: 'join', client, user: 'ada', node: srv.app.nodeId, info: { name: 'Ada' } },
      { type: 'leave', client, user: 'ada', node: srv.app.nodeId, info: { name: 'Ada' } },
    ]);
    await watcher.close();
  });
});
