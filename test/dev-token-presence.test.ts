import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PollResponse, PresenceResponse } from '../contract/index.js';
import { accessNotes } from '../server/access-notes.js';
import { loadConfig } from '../server/config.js';
import { spawnMain } from './support/main-process.js';
import { TOKEN_SECRET, errorOf, openSse, startWithConfig } from './support/secured.js';
import { type TestServer, startServer } from './support/server.js';
import { signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

// The development token endpoint (on only in dev mode), what presence shows of a subscriber, and
// the start log's warning that channels are public.

async function devToken(srv: TestServer, body: unknown): Promise<Response> {
  return fetch(`${srv.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('POST /dev/token', () => {
  it('in dev mode mints a token that works on every transport', async () => {
    await using srv = await startServer();
    const res = await devToken(srv, { user: 'ada', info: { name: 'Ada' } });
    expect(res.status).toBe(200);
    const { token, expires } = (await res.json()) as { token: string; expires: number };
    expect(expires).toBeGreaterThan(Date.now());

    const upgraded = await connectWs(srv.wsUrl, { headers: { authorization: `Bearer ${token}` } });
    expect(upgraded.frames[0]).toMatchObject({ type: 'connected', user: 'ada' });
    const framed = await connectWs(srv.wsUrl);
    framed.send({ id: 1, type: 'connect', token });
    expect(await framed.next('connected', (f) => f.id === 1)).toMatchObject({ user: 'ada', expires });
    const sse = await openSse(srv.url, `channels=dev:a&token=${token}`);
    expect(JSON.parse((await sse.next('connected')).data)).toMatchObject({ user: 'ada' });
    const poll = await fetch(`${srv.url}/poll?channels=dev:a`, { headers: { authorization: `Bearer ${token}` } });
    expect(poll.status).toBe(200);
    PollResponse.parse(await poll.json());
    const presence = await srv.api('/api/channels/dev:a/presence');
    expect(PresenceResponse.parse(await presence.json()).clients).toEqual([expect.objectContaining({ user: 'ada', info: { name: 'Ada' }, transport: 'sse' })]);
    await Promise.all([upgraded.close(), framed.close(), sse.close()]);
  });

  it.each([
    ['a token secret', () => startServer({ HUBBUB_TOKEN_SECRET: TOKEN_SECRET })],
    ['a config file', () => startWithConfig('{}')],
  ])('answers 404 not_found when the server has %s', async (_what, start) => {
    await using srv = await start();
    const res = await devToken(srv, { user: 'ada' });
    expect(res.status).toBe(404);
    expect(errorOf(await res.text()).code).toBe('not_found');
  });
});

const BOARD = `
namespaces:
  board:
    subscribe: token
`;

describe('presence', () => {
  it('lists each subscriber’s user and info: the subscription token’s on a private channel, the connection token’s elsewhere', async () => {
    await using srv = await startWithConfig(BOARD);
    const connection = await signToken(TOKEN_SECRET, { sub: 'ada', info: { name: 'Ada' } }, { expiresIn: 600 });
    const grant = await signToken(TOKEN_SECRET, { sub: 'ada', channel: 'board:1', info: { role: 'editor' } }, { expiresIn: 600 });
    const ada = await connectWs(srv.wsUrl, { headers: { authorization: `Bearer ${connection}` } });
    ada.send({ id: 1, type: 'subscribe', channel: 'board:1', token: grant });
    ada.send({ id: 2, type: 'subscribe', channel: 'news:1' });
    await ada.next('subscribed', (f) => f.id === 2);
    await ada.next('subscribed', (f) => f.id === 1);
    const anonymous = await connectWs(srv.wsUrl);
    anonymous.send({ id: 1, type: 'subscribe', channel: 'news:1' });
    await anonymous.next('subscribed');
    // Over SSE the subscription token rides in `tokens`, aligned with `channels`.
    const sse = await openSse(srv.url, `channels=board:1&tokens=${grant}`, { authorization: `Bearer ${connection}` });
    await sse.next('subscribed');

    const presence = async (channel: string) => PresenceResponse.parse(await (await srv.api(`/api/channels/${channel}/presence`)).json()).clients;
    const board = await presence('board:1');
    expect(board).toHaveLength(2);
    for (const entry of board) expect(entry).toMatchObject({ user: 'ada', info: { role: 'editor' } });
    expect(board.map((e) => e.transport).sort()).toEqual(['sse', 'websocket']);
    const news = await presence('news:1');
    expect(news).toHaveLength(2);
    expect(news.find((e) => e.user === 'ada')).toMatchObject({ info: { name: 'Ada' } });
    expect(news.find((e) => e.user === null)).not.toHaveProperty('info');
    await Promise.all([ada.close(), anonymous.close(), sse.close()]);
  });
});

describe('the start log about public channels (server/access-notes.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-notes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const PUBLIC_NOTE = 'channels are public: anyone may subscribe';
  const configFile = (name: string, yaml: string) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    return file;
  };

  it.each([
    { name: 'no config file (dev mode)', yaml: undefined, printed: true },
    { name: 'namespaces all open to anyone', yaml: 'namespaces:\n  chat:\n    publish: authenticated\n  news:\n    subscribe: anyone\n', printed: true },
    { name: 'defaults that need a signed-in user', yaml: 'defaults:\n  subscribe: authenticated\n', printed: false },
    { name: 'a namespace that needs a subscription token', yaml: 'namespaces:\n  board:\n    subscribe: token\n', printed: false },
    { name: 'a namespace that needs a signed-in user under open defaults', yaml: 'namespaces:\n  chat:\n    subscribe: authenticated\n', printed: false },
  ])('with $name: printed $printed', ({ name, yaml, printed }) => {
    const env: Record<string, string> = yaml === undefined ? {} : { HUBBUB_CONFIG: configFile(name.replace(/\W+/g, '-'), yaml), HUBBUB_TOKEN_SECRET: TOKEN_SECRET };
    const notes = accessNotes(loadConfig({ env }));
    expect(notes.some((n) => n.includes(PUBLIC_NOTE))).toBe(printed);
  });

  it.concurrent.each([
    { name: 'open', yaml: undefined, printed: true },
    { name: 'restricted', yaml: 'defaults:\n  subscribe: authenticated\n', printed: false },
  ])('npm start prints it for an $name server: $printed', async ({ name, yaml, printed }) => {
    const args = ['--port', '0', '--host', '127.0.0.1'];
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HUBBUB_API_KEY: 'notes-test-api-key-0123' };
    if (yaml !== undefined) {
      args.push('--config', configFile(`main-${name}`, yaml));
      env['HUBBUB_TOKEN_SECRET'] = TOKEN_SECRET;
    }
    const main = await spawnMain(args, env);
    // The notes are written in the same turn as the "listening" line; the exit flushes what is left.
    await main.stop();
    expect(main.output()).toMatch(/listening on/);
    expect(main.output().includes(PUBLIC_NOTE)).toBe(printed);
  });
});
