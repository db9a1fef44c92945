import net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { SampledLog } from '../server/log-sampler.js';
import { memoryLogger } from '../server/logger.js';
import { TEST_API_KEY, startServer } from './support/server.js';

/** A publish whose client hangs up after a few bytes of a declared 1,000-byte body. */
function abortedPost(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        `POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_API_KEY}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"channel":',
      );
      setImmediate(() => socket.destroy());
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

/** A WebSocket that sends one frame over the size limit (the server closes it with 1009). */
function oversizedFrame(url: string, bytes: number): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send('x'.repeat(bytes)));
    ws.on('error', () => undefined);
    ws.on('close', (code) => resolve(code));
  });
}

describe('log flooding: what clients get wrong is counted, and logged as a sample', () => {
  it('hundreds of aborted POSTs, oversized frames and malformed bodies log a handful of lines, and every one is counted', async () => {
    await using srv = await startServer({ HUBBUB_MAX_MESSAGE_BYTES: '1024' });
    const n = 100;
    for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: 20 }, () => abortedPost(srv.app.port)));
    const codes = await Promise.all(Array.from({ length: n }, () => oversizedFrame(srv.wsUrl, 4096)));
    expect(new Set(codes)).toEqual(new Set([1009]));
    for (let i = 0; i < n; i++) {
      expect((await srv.api('/api/publish', { method: 'POST', body: '{"channel": ' })).status).toBe(400);
    }
    await vi.waitFor(() => {
      const counts = srv.app.clientErrors.counts();
      expect(counts['http:bad_request']).toBeGreaterThanOrEqual(n);
      expect(counts['http:invalid_json']).toBe(n);
      expect(Object.entries(counts).filter(([k]) => k.startsWith('websocket:')).reduce((a, [, c]) => a + c, 0)).toBe(n);
    });
    // One line per kind at most within the sampling interval: three kinds, 300 bad inputs.
    expect(srv.warnings.length).toBeLessThanOrEqual(3);
    expect((await srv.publish('after', 'ok')).offset).toBe(1);
  });
});

describe('SampledLog', () => {
  it('logs the first of a kind, then at most one line per interval saying how many it skipped', () => {
    let t = 0;
    const logger = memoryLogger();
    const lines = logger.warnings;
    const log = new SampledLog(logger, 10_000, () => t);
    for (let i = 0; i < 50; i++) log.warn('a', 'bad frame');
    log.warn('b', 'bad body');
    t += 10_000;
    log.warn('a', 'bad frame');
    expect(lines).toEqual(['bad frame', 'bad body', 'bad frame (and 49 more like it since the last line)']);
    expect(log.counts()).toEqual({ a: 51, b: 1 });
  });
});
