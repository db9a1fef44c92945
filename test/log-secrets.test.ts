import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger, memoryLogger } from '../server/logger.js';
import { startServer } from './support/server.js';
import { signToken } from './support/tokens.js';

/** Sends `token` in a connect frame and waits for the answer to it. */
function wsConnectFrame(url: string, token: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, type: 'connect', token })));
    ws.on('message', (raw) => {
      if ((JSON.parse(raw.toString()) as { id?: number }).id === 1) ws.close();
    });
    ws.on('error', () => resolve());
    ws.on('close', () => resolve());
  });
}

/** Opens a WebSocket with the upgrade's token (query, header or cookie); refused or accepted, it ends closed. */
function wsAttempt(url: string, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => ws.close(4100, 'bye'));
    ws.on('error', () => resolve());
    ws.on('close', () => resolve());
  });
}

/** An SSE stream opened and dropped at once (a connection: open and close lines). */
async function sseAttempt(url: string, headers: Record<string, string> = {}): Promise<void> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  if (res.ok) await res.body!.getReader().read();
  abort.abort();
}

const API_KEY = 'known-api-key-for-the-log-test-0123';
const WRONG_KEY = 'wrong-api-key-for-the-log-test-4567';
const TOKEN_SECRET = 'known-token-secret-for-the-log-test-0123456789';

describe('secrets never reach the log', () => {
  it('keeps the API key, a wrong key, the token secret and every token (query, header, cookie, frame) out of every line, refused or accepted', async () => {
    // debug: the long-poll and SSE request lines too, everything the server can write.
    const logger = memoryLogger('debug');
    await using srv = await startServer(
      { HUBBUB_API_KEY: API_KEY, HUBBUB_TOKEN_SECRET: TOKEN_SECRET, HUBBUB_TOKEN_COOKIE: 'hb' },
      { logger },
    );
    const good = await signToken(TOKEN_SECRET, { sub: 'ada' }, { expiresIn: 600 });
    const expired = await signToken(TOKEN_SECRET, { sub: 'ada' }, { expiresIn: -600 });
    const forged = `${good.slice(0, -6)}AAAAAA`;
    const tokens = [good, expired, forged, 'not-a-jwt-secret-looking-string-0123456789'];
    for (const token of tokens) {
      const q = encodeURIComponent(token);
      const bearer = { authorization: `Bearer ${token}` };
      const cookie = { cookie: `hb=${token}` };
      await fetch(`${srv.url}/poll?channels=a&timeout=0&token=${q}`);
      await fetch(`${srv.url}/poll?channels=${encodeURIComponent('x:#bob')}&timeout=0&token=${q}`);
      await fetch(`${srv.url}/poll?channels=a&timeout=0`, { headers: bearer });
      await fetch(`${srv.url}/poll?channels=a&timeout=0`, { headers: cookie });
      await fetch(`${srv.url}/publish?token=${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"channel":"a","data":1}' });
      await fetch(`${srv.url}/api/info`, { headers: bearer });
      await fetch(`${srv.url}/api/info?token=${q}&api_key=${q}`, { headers: cookie });
      await sseAttempt(`${srv.url}/sse?channels=a&token=${q}`);
      await sseAttempt(`${srv.url}/sse?channels=a`, cookie);
      await wsAttempt(`${srv.wsUrl}?token=${q}`);
      await wsAttempt(srv.wsUrl, bearer);
      await wsAttempt(srv.wsUrl, cookie);
      await wsConnectFrame(srv.wsUrl, token);
    }
    await fetch(`${srv.url}/api/info`, { headers: { authorization: `Bearer ${API_KEY}` } });
    await fetch(`${srv.url}/api/info`, { headers: { authorization: `Bearer ${WRONG_KEY}` } });
    await fetch(`${srv.url}/api/info?api_key=${WRONG_KEY}`);
    await srv.close();

    const records = logger.records();
    // The lines this test looks through exist: accepted and refused connections, requests.
    expect(records.filter((r) => r.msg === 'connection closed' && r['transport'] === 'websocket').length).toBeGreaterThan(0);
    expect(records.filter((r) => r.msg === 'connection closed' && r['transport'] === 'sse').length).toBeGreaterThan(0);
    expect(records.filter((r) => r.msg === 'request' && r['status'] === 401).length).toBeGreaterThan(0);
    expect(records.filter((r) => r.msg === 'request' && r['route'] === '/poll').length).toBeGreaterThan(0);
    const text = logger.text();
    for (const secret of [API_KEY, WRONG_KEY, TOKEN_SECRET, ...tokens]) {
      expect(text).not.toContain(secret.slice(-20));
      expect(text).not.toContain(encodeURIComponent(secret).slice(-20));
    }
  });

  it('censors secret fields, config secrets, query tokens and Bearer values that code passes to the logger', () => {
    let out = '';
    const logger = createLogger({ level: 'info', format: 'json', destination: { write: (l: string) => ((out += l), true) } as NodeJS.WritableStream });
    const config = { apiKey: API_KEY, tokenSecret: TOKEN_SECRET, devTokenSecret: 'dev-secret-0123456789abcdef', port: 8080 };
    logger.info('config', { config });
    logger.info('headers', { headers: { authorization: `Bearer ${API_KEY}`, cookie: `hb=${TOKEN_SECRET}`, 'x-api-key': WRONG_KEY, host: 'h' } });
    logger.info('fields', { token: 'tok-secret-0123456789', apiKey: WRONG_KEY, url: '/poll?channels=a&token=url-secret-0123456789' });
    logger.info('GET /poll?channels=a&token=msg-secret-0123456789 with Bearer bearer-secret-0123456789');
    logger.warn('failed', new Error('fetching /sse?token=err-secret-0123456789 failed'));
    logger.warn('NATS disconnected', { server: 'nats://hubbub:nats-secret-0123456789@10.0.0.1:4222' });
    logger.info('connecting to tls://hubbub:nats-secret-0123456789@nats.internal:4222');
    for (const secret of [API_KEY, TOKEN_SECRET, WRONG_KEY, 'dev-secret', 'tok-secret', 'url-secret', 'msg-secret', 'bearer-secret', 'err-secret', 'nats-secret']) {
      expect(out).not.toContain(secret);
    }
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ config: { apiKey: '[Redacted]', tokenSecret: '[Redacted]', port: 8080 } });
    expect(lines[1]).toMatchObject({ headers: { authorization: '[Redacted]', cookie: '[Redacted]', host: 'h' } });
    expect(lines[2]).toMatchObject({ token: '[Redacted]', url: '/poll?channels=a&token=[Redacted]' });
    expect(lines[3]!['msg']).toBe('GET /poll?channels=a&token=[Redacted] with Bearer [Redacted]');
    expect(lines[5]).toMatchObject({ server: 'nats://hubbub:[Redacted]@10.0.0.1:4222' });
  });
});
