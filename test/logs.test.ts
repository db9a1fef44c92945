import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../server/config.js';
import { type LogRecord, createLogger, loggerFromConfig, memoryLogger } from '../server/logger.js';
import { spawnMain } from './support/main-process.js';
import { TEST_API_KEY, startServer } from './support/server.js';
import { readSse } from './support/sse-reader.js';

/** A logger writing into a string, as it would to stdout. */
function captured(options: { level?: 'debug' | 'info' | 'warn'; format: 'json' | 'pretty' | 'auto'; isTTY?: boolean }) {
  let out = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ level: options.level ?? 'info', format: options.format, destination, isTTY: options.isTTY ?? false });
  return { logger, lines: () => out.split('\n').filter((l) => l !== '') };
}

function openWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
  });
}

const closed = (ws: WebSocket) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

const byMsg = (records: LogRecord[], msg: string) => records.filter((r) => r.msg === msg);

describe('log format', () => {
  it('json: every line is one JSON object with level, time and msg, and the fields given', () => {
    const { logger, lines } = captured({ format: 'json' });
    logger.info('connection closed', { transport: 'websocket', code: 4000 });
    logger.warn('shutdown failed', new Error('boom'));
    logger.warn('NATS reconnected', { server: 'nats://127.0.0.1:4222' });
    const [first, second, third] = lines().map((l) => JSON.parse(l) as LogRecord);
    expect(first).toMatchObject({ level: 30, msg: 'connection closed', transport: 'websocket', code: 4000 });
    expect(typeof first!.time).toBe('number');
    expect(second).toMatchObject({ level: 40, msg: 'shutdown failed', err: { type: 'Error', message: 'boom' } });
    // The NATS broker passes its context where an error would go: it becomes the line's fields.
    expect(third).toMatchObject({ level: 40, msg: 'NATS reconnected', server: 'nats://127.0.0.1:4222' });
  });

  it('pretty: one readable line per event, fields as key=value, no JSON braces', () => {
    const { logger, lines } = captured({ format: 'pretty' });
    logger.info('connection closed', { transport: 'websocket', user: 'ada', durationMs: 1520, code: 4000, reason: 'shutdown' });
    const out = lines();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/INFO.*connection closed transport=websocket user=ada durationMs=1520 code=4000 reason=shutdown$/);
    expect(out[0]).not.toMatch(/[{}]/);
  });

  it('auto: pretty on a terminal, JSON lines otherwise', () => {
    const tty = captured({ format: 'auto', isTTY: true });
    const pipe = captured({ format: 'auto', isTTY: false });
    tty.logger.info('hello', { a: 1 });
    pipe.logger.info('hello', { a: 1 });
    expect(tty.lines()[0]).toMatch(/hello a=1/);
    expect(tty.lines()[0]).not.toMatch(/[{}]/);
    expect(JSON.parse(pipe.lines()[0]!)).toMatchObject({ msg: 'hello', a: 1 });
  });

  it('levels: lines below the level are dropped, and setLevel changes it at runtime', () => {
    const { logger, lines } = captured({ level: 'warn', format: 'json' });
    logger.info('not shown');
    logger.debug('not shown either');
    logger.warn('shown');
    logger.setLevel('debug');
    expect(logger.isLevelEnabled('debug')).toBe(true);
    logger.debug('now shown');
    expect(lines().map((l) => (JSON.parse(l) as LogRecord).msg)).toEqual(['shown', 'now shown']);
  });

  it('--log-level and --log-format are settings with defaults, a bad value names the setting', () => {
    const config = loadConfig({ env: { HUBBUB_LOG_LEVEL: 'debug' }, argv: ['--log-format', 'json'] });
    expect([config.logLevel, config.logFormat]).toEqual(['debug', 'json']);
    expect([loadConfig().logLevel, loadConfig().logFormat]).toEqual(['info', 'auto']);
    expect(() => loadConfig({ env: { HUBBUB_LOG_LEVEL: 'verbose' } })).toThrow(ConfigError);
    expect(() => loadConfig({ argv: ['--log-format', 'xml'] })).toThrow(/--log-format/);
    let out = '';
    const logger = loggerFromConfig(config, { destination: { write: (l: string) => ((out += l), true) } as NodeJS.WritableStream });
    logger.debug('hello');
    expect(JSON.parse(out)).toMatchObject({ level: 20, msg: 'hello', node: config.nodeId });
  });
});

describe('request lines', () => {
  it('one info line per API request: method, route pattern, path, status, duration, request id', async () => {
    const logger = memoryLogger();
    await using srv = await startServer({}, { logger });
    await srv.publish('news', { n: 1 });
    await fetch(`${srv.url}/api/channels/news/history`, { headers: { authorization: `Bearer ${TEST_API_KEY}`, 'x-request-id': 'req-42' } });
    await fetch(`${srv.url}/api/info`);
    await vi.waitFor(() => expect(byMsg(logger.records(), 'request')).toHaveLength(3));
    const [publish, history, refused] = byMsg(logger.records(), 'request');
    expect(publish).toMatchObject({ level: 30, method: 'POST', route: '/api/publish', path: '/api/publish', status: 200 });
    expect(history).toMatchObject({ method: 'GET', route: '/api/channels/:channel/history', path: '/api/channels/news/history', status: 200, reqId: 'req-42' });
    expect(refused).toMatchObject({ method: 'GET', route: '/api/info', status: 401 });
    for (const r of [publish, history, refused]) expect(r!['durationMs']).toBeGreaterThanOrEqual(0);
  });

  it('long-polls are requests logged at debug only: none at info, one line each at debug', async () => {
    const info = memoryLogger('info');
    await using a = await startServer({}, { logger: info });
    await fetch(`${a.url}/poll?channels=a&timeout=0`);
    await fetch(`${a.url}/api/info`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    await vi.waitFor(() => expect(byMsg(info.records(), 'request')).toHaveLength(1));
    expect(byMsg(info.records(), 'request')[0]).toMatchObject({ route: '/api/info' });

    const debug = memoryLogger('debug');
    await using b = await startServer({}, { logger: debug });
    await fetch(`${b.url}/poll?channels=a&timeout=0`);
    await vi.waitFor(() => expect(byMsg(debug.records(), 'request')).toHaveLength(1));
    expect(byMsg(debug.records(), 'request')[0]).toMatchObject({ level: 20, method: 'GET', route: '/poll', status: 200 });
    // A poll opens no connection: it has no open or close line.
    expect(byMsg(debug.records(), 'connection opened')).toEqual([]);
  });
});

describe('connection lines', () => {
  it('WebSocket: one line at open, one at close with duration and the close code (client close, then server shutdown)', async () => {
    const logger = memoryLogger();
    await using srv = await startServer({}, { logger });
    const first = await openWs(srv.wsUrl);
    first.close(1000);
    await vi.waitFor(() => expect(byMsg(logger.records(), 'connection closed')).toHaveLength(1));
    const second = await openWs(srv.wsUrl);
    const code = closed(second);
    await srv.app.stop();
    expect(await code).toBe(4000);
    await vi.waitFor(() => expect(byMsg(logger.records(), 'connection closed')).toHaveLength(2));
    const opened = byMsg(logger.records(), 'connection opened');
    const [byClient, byServer] = byMsg(logger.records(), 'connection closed');
    expect(opened).toHaveLength(2);
    expect(opened[0]).toMatchObject({ transport: 'websocket', user: null, address: '127.0.0.1' });
    expect(byClient).toMatchObject({ transport: 'websocket', client: opened[0]!['client'], by: 'client', code: 1000 });
    expect(byServer).toMatchObject({ transport: 'websocket', client: opened[1]!['client'], by: 'server', code: 4000, reason: 'shutdown' });
    for (const r of [byClient, byServer]) expect(r!['durationMs']).toBeGreaterThanOrEqual(0);
    expect(byServer!.time - opened[1]!.time).toBeGreaterThanOrEqual(byServer!['durationMs'] as number);
  });

  it('SSE: one line at open, one at close: the client leaving, or the server ending the stream with its code', async () => {
    const logger = memoryLogger();
    await using srv = await startServer({}, { logger });
    const abort = new AbortController();
    const events = readSse((await fetch(`${srv.url}/sse?channels=a`, { signal: abort.signal })).body!);
    expect((await events.next()).value).toMatchObject({ event: 'connected' });
    abort.abort();
    await vi.waitFor(() => expect(byMsg(logger.records(), 'connection closed')).toHaveLength(1));
    expect(byMsg(logger.records(), 'connection closed')[0]).toMatchObject({ transport: 'sse', by: 'client' });
    expect(byMsg(logger.records(), 'connection closed')[0]!['code']).toBeUndefined();

    const second = readSse((await fetch(`${srv.url}/sse?channels=a`)).body!);
    expect((await second.next()).value).toMatchObject({ event: 'connected' });
    await srv.app.stop();
    await vi.waitFor(() => expect(byMsg(logger.records(), 'connection closed')).toHaveLength(2));
    expect(byMsg(logger.records(), 'connection opened')).toHaveLength(2);
    expect(byMsg(logger.records(), 'connection closed')[1]).toMatchObject({ transport: 'sse', by: 'server', code: 4000, reason: 'shutdown' });
  });
});

describe('npm start', () => {
  it('writes JSON lines when stdout is not a terminal, request and connection lines included, and the last line before exit', async () => {
    const env = { PATH: process.env.PATH ?? '', HUBBUB_API_KEY: TEST_API_KEY };
    const main = await spawnMain(['--port', '0', '--host', '127.0.0.1'], env);
    try {
      await fetch(`${main.url}/api/info`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
      const ws = await openWs(`${main.url.replace('http', 'ws')}/ws`);
      const code = closed(ws);
      await main.stop();
      expect(await code).toBe(4000);
    } finally {
      await main.kill9();
    }
    const lines = main.output().split('\n').filter((l) => l !== '');
    const records = lines.map((l) => JSON.parse(l) as LogRecord);
    expect(records.map((r) => r.msg)).toEqual(expect.arrayContaining(['request', 'connection opened', 'connection closed']));
    expect(records.find((r) => r.msg === 'connection closed')).toMatchObject({ transport: 'websocket', by: 'server', code: 4000 });
    expect(records.at(-1)).toMatchObject({ level: 30, msg: 'stopped' });
    for (const r of records) expect(typeof r.node).toBe('string');
  });
});
