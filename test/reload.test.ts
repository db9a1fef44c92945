// Reloading the configuration of a running node (server/reload.ts): a real server started from a
// config file, the file rewritten, then reloaded, in-process and through a real SIGHUP to
// server/main.ts. What may change does so for the next request; open connections stay open.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type HubbubApp, createHubbub } from '../server/app.js';
import { type Config, ConfigError, loadConfig } from '../server/config.js';
import { type Logger, memoryLogger } from '../server/logger.js';
import { ReloadError, reloadOnHangup } from '../server/reload.js';
import { spawnMain } from './support/main-process.js';
import { openSession } from './support/raw-clients.js';
import { signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

const OLD_KEY = 'reload-old-key-0123456789';
const NEW_KEY = 'reload-new-key-0123456789';
const OLD_ORIGIN = 'https://old.example';
const NEW_ORIGIN = 'https://new.example';
const WAIT = { timeout: 10_000 };

/** The config file's text: the settings a test rewrites, the rest fixed. */
function yaml(o: { key: string; origin: string; locked: boolean; port?: number }): string {
  return [
    `apiKey: ${o.key}`,
    `allowedOrigins: [${o.origin}]`,
    `port: ${o.port ?? 0}`,
    'host: 127.0.0.1',
    'namespaces:',
    `  private: { subscribe: ${o.locked ? 'authenticated' : 'anyone'} }`,
    '',
  ].join('\n');
}

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hubbub-reload-'));
  file = join(dir, 'hubbub.yaml');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const argv = () => ['--config', file];
const publish = (url: string, key: string, channel: string, data: unknown) =>
  fetch(`${url}/api/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data }),
  });
const pollStatus = async (url: string, channel: string, origin?: string) =>
  (await fetch(`${url}/poll?channels=${channel}&timeout=0`, origin ? { headers: { origin } } : {})).status;

async function start(logger: Logger = memoryLogger()): Promise<{ app: HubbubApp; close(): Promise<void> }> {
  const app = createHubbub(loadConfig({ argv: argv(), env: {} }), { logger });
  await app.listen();
  return { app, close: () => app.close() };
}

const reloadFile = (app: HubbubApp) => app.reload(loadConfig({ argv: argv(), env: {}, previous: app.config }));

describe('app.reload', () => {
  it('swaps API keys, origins and namespace rules for new requests, keeps open WebSocket and SSE connections, and reports a port change as needing a restart', async () => {
    await writeFile(file, yaml({ key: OLD_KEY, origin: OLD_ORIGIN, locked: false }));
    const srv = await start();
    try {
      const url = srv.app.url;
      const port = srv.app.port;
      const ws = await openSession('websocket', url, ['private:ws']);
      const sse = await openSession('sse', url, ['private:sse']);
      const peer = await connectWs(url.replace('http', 'ws') + '/ws');
      expect(await pollStatus(url, 'news', NEW_ORIGIN)).toBe(403);

      await writeFile(file, yaml({ key: NEW_KEY, origin: NEW_ORIGIN, locked: true, port: port === 1 ? 2 : 1 }));
      const result = reloadFile(srv.app);

      expect(result.applied.sort()).toEqual(['--allowed-origins', '--api-key', 'namespaces']);
      expect(result.needsRestart).toEqual(['--port']);
      expect(srv.app.port).toBe(port);
      // Keys: the old one is refused, the new one publishes to the connections opened before the reload.
      expect((await publish(url, OLD_KEY, 'private:ws', 'old')).status).toBe(401);
      expect((await publish(url, NEW_KEY, 'private:ws', 'to ws')).status).toBe(200);
      expect((await publish(url, NEW_KEY, 'private:sse', 'to sse')).status).toBe(200);
      await vi.waitFor(() => expect(ws.publications.map((p) => p.data)).toEqual(['to ws']), WAIT);
      await vi.waitFor(() => expect(sse.publications.map((p) => p.data)).toEqual(['to sse']), WAIT);
      expect(ws.disconnects).toEqual([]);
      expect(sse.disconnects).toEqual([]);
      // Origins: the new one is allowed, the old one no longer.
      expect(await pollStatus(url, 'news', NEW_ORIGIN)).toBe(200);
      expect(await pollStatus(url, 'news', OLD_ORIGIN)).toBe(403);
      // ... and on a path only Koa answers (its CORS middleware).
      const bundle = await fetch(`${url}/client/hubbub.js`, { headers: { origin: NEW_ORIGIN } });
      expect([bundle.status, bundle.headers.get('access-control-allow-origin')]).toEqual([200, NEW_ORIGIN]);
      // Namespace rules: a new anonymous subscribe to private: is refused, on a new request and on a WebSocket opened before.
      expect(await pollStatus(url, 'private:new')).toBe(403);
      peer.send({ id: 1, type: 'subscribe', channel: 'private:late' });
      expect((await peer.next('error', (f) => f.id === 1)).code).toBe('forbidden');
      await peer.close();
      // The config in force carries what was applied, and the old port.
      expect(srv.app.config.apiKey).toBe(NEW_KEY);
      expect(srv.app.config.port).toBe(0);
      await ws.close();
      await sse.close();
    } finally {
      await srv.close();
    }
  }, 60_000);

  it('lowers the connection ceiling for new connections; a connection already open stays', async () => {
    await writeFile(file, yaml({ key: OLD_KEY, origin: OLD_ORIGIN, locked: false }));
    const srv = await start();
    try {
      const first = await openSession('sse', srv.app.url, ['news:first']);
      await writeFile(file, `${yaml({ key: OLD_KEY, origin: OLD_ORIGIN, locked: false })}limitConnectionsPerIp: 1\n`);
      expect(reloadFile(srv.app)).toEqual({ applied: ['--limit-connections-per-ip'], needsRestart: [] });
      const second = await fetch(`${srv.app.url}/sse?channels=news:second`);
      expect(second.status).toBe(429);
      await second.body?.cancel();
      expect((await publish(srv.app.url, OLD_KEY, 'news:first', 'kept')).status).toBe(200);
      await vi.waitFor(() => expect(first.publications.map((p) => p.data)).toEqual(['kept']), WAIT);
      await first.close();
    } finally {
      await srv.close();
    }
  });

  it('rotates the token secret: a live connection refreshes with a token of the new key, the old key opens nothing new', async () => {
    const [S1, S2] = ['reload-token-secret-one-0123456789abcdef', 'reload-token-secret-two-0123456789abcdef'];
    const base = yaml({ key: OLD_KEY, origin: OLD_ORIGIN, locked: false });
    await writeFile(file, `${base}tokenSecret: ${S1}\n`);
    const srv = await start();
    try {
      const wsUrl = srv.app.url.replace('http', 'ws') + '/ws';
      const live = await connectWs(wsUrl);
      live.send({ id: 1, type: 'connect', token: await signToken(S1, { sub: 'ada' }, { expiresIn: 3600 }) });
      expect(await live.next('connected', (f) => f.id === 1)).toMatchObject({ user: 'ada' });

      await writeFile(file, `${base}tokenSecret: ${S2}\n`);
      expect(reloadFile(srv.app)).toEqual({ applied: ['--token-secret'], needsRestart: [] });

      live.send({ id: 2, type: 'refresh', token: await signToken(S2, { sub: 'ada' }, { expiresIn: 3600 }) });
      const answer = await vi.waitFor(() => live.frames.find((f) => 'id' in f && f.id === 2) ?? Promise.reject(new Error('no answer yet')), WAIT);
      expect(answer.type).toBe('refreshed');
      const late = await connectWs(wsUrl);
      late.send({ id: 1, type: 'connect', token: await signToken(S1, { sub: 'bob' }, { expiresIn: 3600 }) });
      expect((await late.next('error', (f) => f.id === 1)).code).toBe('token_invalid');
      await late.close();
      await live.close();
    } finally {
      await srv.close();
    }
  });

  it('changes the log level of the running logger', async () => {
    await writeFile(file, yaml({ key: OLD_KEY, origin: OLD_ORIGIN, locked: false }));
    const logger = memoryLogger();
    const srv = await start(logger);
    try {
      logger.debug('before the reload');
      const next = loadConfig({ argv: [...argv(), '--log-level', 'debug'], env: {}, previous: srv.app.config });
      expect(srv.app.reload(next)).toEqual({ applied: ['--log-level'], needsRestart: [] });
      expect(logger.level).toBe('debug');
      logger.debug('after the reload');
      expect(logger.records().map((r) => r.msg)).toContain('after the reload');
      expect(logger.records().map((r) => r.msg)).not.toContain('before the reload');
    } finally {
      await srv.close();
    }
  });

  it('a config file that does not load changes nothing', async () => {
    await writeFile(file, yaml({ key: OLD_KEY, origin: OLD_ORIGIN, locked: false }));
    const srv = await start();
    try {
      await writeFile(file, `${yaml({ key: NEW_KEY, origin: NEW_ORIGIN, locked: true })}apiKey: short\n`);
      expect(() => reloadFile(srv.app)).toThrow(ConfigError);
      await writeFile(file, 'apiKey: [unclosed\n');
      expect(() => reloadFile(srv.app)).toThrow(ConfigError);
      expect((await publish(srv.app.url, OLD_KEY, 'news', 1)).status).toBe(200);
      expect((await publish(srv.app.url, NEW_KEY, 'news', 1)).status).toBe(401);
      expect(await pollStatus(srv.app.url, 'private:x')).toBe(200);
    } finally {
      await srv.close();
    }
  });

  it('a config that loads but cannot be built (unreadable token key file) changes nothing, not even the API key beside it', async () => {
    await writeFile(file, yaml({ key: OLD_KEY, origin: OLD_ORIGIN, locked: false }));
    const srv = await start();
    try {
      await writeFile(file, `${yaml({ key: NEW_KEY, origin: NEW_ORIGIN, locked: true })}tokenPublicKey: ${join(dir, 'missing.pem')}\n`);
      expect(() => reloadFile(srv.app)).toThrow(ReloadError);
      expect((await publish(srv.app.url, OLD_KEY, 'news', 1)).status).toBe(200);
      expect((await publish(srv.app.url, NEW_KEY, 'news', 1)).status).toBe(401);
      expect(await pollStatus(srv.app.url, 'news', OLD_ORIGIN)).toBe(200);
      expect(await pollStatus(srv.app.url, 'private:x')).toBe(200);
      expect(srv.app.config.apiKey).toBe(OLD_KEY);
    } finally {
      await srv.close();
    }
  });

  it('keeps an API key generated at start when the reloaded config still sets none', async () => {
    await writeFile(file, 'host: 127.0.0.1\nport: 0\n');
    const srv = await start();
    try {
      const generated = srv.app.config.apiKey;
      expect(srv.app.config.apiKeyGenerated).toBe(true);
      expect(reloadFile(srv.app)).toEqual({ applied: [], needsRestart: [] });
      expect((await publish(srv.app.url, generated, 'news', 1)).status).toBe(200);
    } finally {
      await srv.close();
    }
  });
});

describe('reloadOnHangup', () => {
  it('prints the key it generates when the config no longer sets one, as the start does', async () => {
    await writeFile(file, yaml({ key: OLD_KEY, origin: OLD_ORIGIN, locked: false }));
    const srv = await start();
    const infos: string[] = [];
    const remove = reloadOnHangup(srv.app, argv(), {}, { ...memoryLogger(), info: (m) => infos.push(m) });
    try {
      await writeFile(file, yaml({ key: OLD_KEY, origin: OLD_ORIGIN, locked: false }).replace(/^apiKey: .*\n/, ''));
      // The listener as the signal calls it, without signalling the test runner's process.
      process.emit('SIGHUP', 'SIGHUP');
      const generated = /generated API key for this run: (\S+)/.exec(infos.join('\n'))?.[1];
      expect(infos[0]).toBe('configuration reloaded: applied --api-key');
      expect(generated).toBe(srv.app.config.apiKey);
      expect((await publish(srv.app.url, generated!, 'news', 1)).status).toBe(200);
      expect((await publish(srv.app.url, OLD_KEY, 'news', 1)).status).toBe(401);
    } finally {
      remove();
      await srv.close();
    }
  });
});

describe('server/main.ts SIGHUP', () => {
  it('rereads the config file: the new key works, the old is refused, open connections stay; a broken file is logged and changes nothing', async () => {
    await writeFile(file, yaml({ key: OLD_KEY, origin: OLD_ORIGIN, locked: false }));
    const main = await spawnMain(argv(), { PATH: process.env.PATH ?? '' });
    try {
      const ws = await openSession('websocket', main.url, ['news:ws']);
      const sse = await openSession('sse', main.url, ['news:sse']);

      await writeFile(file, yaml({ key: NEW_KEY, origin: NEW_ORIGIN, locked: true, port: 1 }));
      main.child.kill('SIGHUP');
      await vi.waitFor(() => expect(main.output()).toMatch(/configuration reloaded: applied .*--api-key.*; needs a restart \(not applied\): --port/), WAIT);

      expect((await publish(main.url, OLD_KEY, 'news:ws', 'old')).status).toBe(401);
      expect((await publish(main.url, NEW_KEY, 'news:ws', 'ws')).status).toBe(200);
      expect((await publish(main.url, NEW_KEY, 'news:sse', 'sse')).status).toBe(200);
      await vi.waitFor(() => expect(ws.publications.map((p) => p.data)).toEqual(['ws']), WAIT);
      await vi.waitFor(() => expect(sse.publications.map((p) => p.data)).toEqual(['sse']), WAIT);
      expect(await pollStatus(main.url, 'private:x')).toBe(403);

      await writeFile(file, 'apiKey: [unclosed\n');
      main.child.kill('SIGHUP');
      await vi.waitFor(() => expect(main.output()).toMatch(/configuration not reloaded, still serving with the previous one: config file .* is not valid YAML/), WAIT);
      expect((await publish(main.url, NEW_KEY, 'news:ws', 'still')).status).toBe(200);
      await vi.waitFor(() => expect(ws.publications.map((p) => p.data)).toEqual(['ws', 'still']), WAIT);
      expect(ws.disconnects).toEqual([]);
      expect(sse.disconnects).toEqual([]);
      expect(main.child.exitCode).toBe(null);
      await ws.close();
      await sse.close();
    } finally {
      await main.stop();
    }
  }, 60_000);
});
