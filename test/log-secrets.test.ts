import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Logger } from '../server/logger.js';
import { startServer } from './support/server.js';
import { serverSecret, signToken } from './support/tokens.js';

/** Everything the server logs, messages and error objects alike, as text. */
function capturingLogger(): Logger & { text(): string } {
  const lines: string[] = [];
  const record = (m: string, err?: unknown) => {
    const detail = err instanceof Error ? `${err.name} ${err.message} ${err.stack ?? ''} ${String(err.cause ?? '')}` : JSON.stringify(err ?? null);
    lines.push(`${m} ${detail}`);
  };
  return { info: (m) => record(m), warn: record, text: () => lines.join('\n') };
}

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

/** Opens a WebSocket with the upgrade's query token; refused or accepted, it ends closed. */
function wsAttempt(url: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => ws.close());
    ws.on('error', () => resolve());
    ws.on('close', () => resolve());
  });
}

describe('tokens never reach the log', () => {
  it('keeps query tokens, Authorization headers and frame tokens out of every line, refused or accepted', async () => {
    const logger = capturingLogger();
    // Every failure is logged at once (no sampling interval would hide a line from this test).
    await using srv = await startServer({}, { logger });
    const good = await signToken(serverSecret(srv.config), { sub: 'ada' }, { expiresIn: 600 });
    const expired = await signToken(serverSecret(srv.config), { sub: 'ada' }, { expiresIn: -600 });
    const forged = `${good.slice(0, -6)}AAAAAA`;
    const tokens = [good, expired, forged, 'not-a-jwt-secret-looking-string-0123456789'];
    for (const token of tokens) {
      const q = encodeURIComponent(token);
      await fetch(`${srv.url}/poll?channels=a&timeout=0&token=${q}`);
      await fetch(`${srv.url}/poll?channels=${encodeURIComponent('x:#bob')}&timeout=0&token=${q}`);
      await fetch(`${srv.url}/poll?channels=a&timeout=0`, { headers: { authorization: `Bearer ${token}` } });
      await fetch(`${srv.url}/publish?token=${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"channel":"a","data":1}' });
      await fetch(`${srv.url}/api/info`, { headers: { authorization: `Bearer ${token}` } });
      await wsAttempt(`${srv.wsUrl}?token=${q}`);
      await wsConnectFrame(srv.wsUrl, token);
    }
    expect(logger.text().length, 'the refusals were logged').toBeGreaterThan(0);
    for (const token of tokens) expect(logger.text()).not.toContain(token.slice(-20));
  });
});
