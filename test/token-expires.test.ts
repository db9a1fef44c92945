// `expires` in connected frames and events is an integer (ms) by the contract, but `exp` is an RFC
// 7519 NumericDate: it may be fractional (a Python backend's time.time() + 3600), or read as
// Infinity (1e400). Found by test/fuzz/tokens.test.ts: the frame carried 1795777697123.456 and
// failed the client's ServerFrame check.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { ConnectedFrame, SseConnectedEvent } from '../contract/index.js';
import { type ConfiguredServer, startConfigured } from './support/configured-server.js';
import { readSse } from './support/sse-reader.js';

let srv: ConfiguredServer;
beforeAll(async () => {
  srv = await startConfigured('memory', 'defaults: { subscribe: anyone }\n');
});
afterAll(() => srv?.close());

/** HS256 over claims written as JSON text, so exp can be a fraction or 1e400. */
function tokenWithExp(expText: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const input = `${b64('{"alg":"HS256"}')}.${b64(`{"sub":"ada","exp":${expText}}`)}`;
  return `${input}.${createHmac('sha256', srv.secret).update(input).digest('base64url')}`;
}

async function wsConnected(token: string): Promise<unknown> {
  const ws = new WebSocket(srv.url.replace('http', 'ws') + '/ws');
  const frames: unknown[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ id: 1, type: 'connect', token }));
  await vi.waitFor(() => expect(frames.find((f) => (f as { id?: number }).id === 1)).toBeDefined(), { timeout: 5_000, interval: 5 });
  ws.close();
  return frames.find((f) => (f as { id?: number }).id === 1);
}

async function sseConnected(token: string): Promise<unknown> {
  const abort = new AbortController();
  const res = await fetch(`${srv.url}/sse?${new URLSearchParams({ channels: 'news', token })}`, { signal: abort.signal });
  try {
    for await (const ev of readSse(res.body!)) if (ev.event === 'connected') return JSON.parse(ev.data);
    throw new Error('no connected event');
  } finally {
    abort.abort();
  }
}

describe('expires in connected frames', () => {
  it('a fractional exp is announced as the whole second the token stops being valid', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const token = tokenWithExp(`${exp}.123456`);
    expect(ConnectedFrame.parse(await wsConnected(token)).expires).toBe((exp + 1) * 1000);
    expect(SseConnectedEvent.parse(await sseConnected(token)).expires).toBe((exp + 1) * 1000);
  });

  it('an exp past any date (1e400 reads as Infinity) is announced as no expiry, not as null', async () => {
    const token = tokenWithExp('1e400');
    expect(await wsConnected(token)).not.toHaveProperty('expires');
    expect(await sseConnected(token)).not.toHaveProperty('expires');
  });
});
