import { describe, expect, it, vi } from 'vitest';
import { connectWs } from './support/ws-client.js';
import { errorOf, openSse, upgrade } from './support/secured.js';
import { startServer } from './support/server.js';

// Per-address limits on real servers: concurrent connections, new connections per second, and the
// trusted proxies that decide what "an address" is. Every test sets its limits explicitly (small)
// except the flood, which is about the defaults.

/** vi.waitFor's 1 s default is short for a loaded two-core machine running real servers. */
const SLOW = { timeout: 5_000 };

let seq = 0;
/** A channel no other test touches: a poll of it answers at once (its subscribe result is news). */
const fresh = () => `limits:${process.pid}-${++seq}`;

const poll = (url: string, headers: Record<string, string> = {}) => fetch(`${url}/poll?channels=${fresh()}`, { headers });

describe('connections per address (--limit-connections-per-ip)', () => {
  it('refuses the next WebSocket with a plain HTTP 429, SSE and poll with 429 JSON, and admits a new one when one closes', async () => {
    await using srv = await startServer({ HUBBUB_LIMIT_CONNECTIONS_PER_IP: '2' });
    const ws = await connectWs(srv.wsUrl);
    const sse = await openSse(srv.url, `channels=${fresh()}`);
    expect(sse.status).toBe(200);

    const refusedWs = await upgrade(srv.url);
    expect(refusedWs.status).toBe(429);
    expect(refusedWs.headers['content-type']).toBe('application/json');
    expect(errorOf(refusedWs.body)).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('2 connections per address') });
    expect(Number(refusedWs.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    const refusedSse = await openSse(srv.url, `channels=${fresh()}`);
    expect(refusedSse.status).toBe(429);
    expect(errorOf(refusedSse.body).code).toBe('rate_limited');
    expect(Number(refusedSse.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const refusedPoll = await poll(srv.url);
    expect(refusedPoll.status).toBe(429);
    expect(refusedPoll.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await refusedPoll.json()) as { code: string }).code).toBe('rate_limited');

    await ws.close();
    const again = await vi.waitFor(async () => {
      const a = await upgrade(srv.url);
      if (a.status !== 101) throw new Error(`still ${a.status}`);
      return a;
    }, SLOW);
    again.socket!.destroy();
    await sse.close();
    await vi.waitFor(async () => expect((await poll(srv.url)).status).toBe(200), SLOW);
  });
});

describe('new connections per second per address (--limit-connection-rate)', () => {
  it('lets exactly the burst (5 × rate) through, then answers 429 with Retry-After, then lets one through again', async () => {
    const rate = 2;
    const burst = rate * 5;
    await using srv = await startServer({ HUBBUB_LIMIT_CONNECTION_RATE: String(rate) });
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: burst + 5 }, () => poll(srv.url)));
    const elapsed = (Date.now() - started) / 1000;
    const passed = answers.filter((r) => r.status === 200).length;
    // The bucket refills at `rate` per second while the requests are under way: exactly the burst when that took < 1/rate s.
    expect(passed).toBeGreaterThanOrEqual(burst);
    expect(passed).toBeLessThanOrEqual(burst + Math.floor(elapsed * rate));
    const refused = answers.filter((r) => r.status !== 200);
    expect(refused.map((r) => r.status)).toEqual(refused.map(() => 429));
    for (const r of refused) expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // Every door counts against the same bucket: an upgrade and a stream are refused alike.
    const ws = await upgrade(srv.url);
    expect(ws.status).toBe(429);
    expect(Number(ws.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await openSse(srv.url, `channels=${fresh()}`)).status).toBe(429);

    await vi.waitFor(async () => expect((await poll(srv.url)).status).toBe(200), { timeout: 5_000, interval: 100 });
  });
});

describe('trusted proxies (--trusted-proxies)', () => {
  const xff = (address: string) => ({ 'x-forwarded-for': address });

  it('from a listed proxy, X-Forwarded-For and Forwarded name the client address the limits count', async () => {
    await using srv = await startServer({ HUBBUB_LIMIT_CONNECTIONS_PER_IP: '1', HUBBUB_TRUSTED_PROXIES: '127.0.0.1' });
    const a = await upgrade(srv.url, xff('203.0.113.1'));
    const b = await upgrade(srv.url, xff('198.51.100.7, 203.0.113.2'));
    const v6 = await upgrade(srv.url, { forwarded: 'for="[2001:db8::1]:4711"' });
    expect([a.status, b.status, v6.status]).toEqual([101, 101, 101]);
    // The same clients again, however the proxy writes it: their one connection is open.
    expect((await upgrade(srv.url, xff('203.0.113.1'))).status).toBe(429);
    expect((await upgrade(srv.url, { forwarded: 'for=203.0.113.2;proto=https' })).status).toBe(429);
    expect((await upgrade(srv.url, { forwarded: 'for="[2001:db8::1]"' })).status).toBe(429);
    for (const s of [a, b, v6]) s.socket!.destroy();
  });

  it('a Forwarded header the client wrote, passed through by a proxy that appends X-Forwarded-For (nginx’s default), does not name the client', async () => {
    await using srv = await startServer({ HUBBUB_LIMIT_CONNECTIONS_PER_IP: '1', HUBBUB_TRUSTED_PROXIES: '127.0.0.1' });
    // What nginx sends for one client (203.0.113.1) that writes a new Forwarded header on every request.
    const viaNginx = (spoofed: string) => ({ 'x-forwarded-for': '203.0.113.1', forwarded: `for=${spoofed}` });
    const first = await upgrade(srv.url, viaNginx('198.51.100.1'));
    expect(first.status).toBe(101);
    const second = await upgrade(srv.url, viaNginx('198.51.100.2'));
    second.socket?.destroy();
    expect(second.status).toBe(429);
    first.socket!.destroy();
  });

  it('from any other peer the headers are ignored: a client cannot dodge the per-address limit by writing them', async () => {
    await using srv = await startServer({ HUBBUB_LIMIT_CONNECTIONS_PER_IP: '1', HUBBUB_TRUSTED_PROXIES: '10.0.0.1' });
    const first = await upgrade(srv.url, xff('203.0.113.1'));
    expect(first.status).toBe(101);
    expect((await upgrade(srv.url, xff('203.0.113.2'))).status).toBe(429);
    expect((await upgrade(srv.url, { forwarded: 'for=203.0.113.3' })).status).toBe(429);
    first.socket!.destroy();
  });

  it('without any listed proxy the headers are ignored too', async () => {
    await using srv = await startServer({ HUBBUB_LIMIT_CONNECTIONS_PER_IP: '1' });
    const first = await openSse(srv.url, `channels=${fresh()}`, xff('203.0.113.1'));
    expect(first.status).toBe(200);
    expect((await openSse(srv.url, `channels=${fresh()}`, xff('203.0.113.2'))).status).toBe(429);
    await first.close();
  });
});

describe('a flood of anonymous polls from one address', () => {
  it('2,000 polls of made-up channels with the default limits: past the burst they get 429 instead of being served', async () => {
    await using srv = await startServer();
    const { limitConnectionRate } = srv.config;
    const total = 2000;
    const statuses: number[] = [];
    let sent = 0;
    const worker = async () => {
      while (sent < total) {
        sent += 1;
        const r = await poll(srv.url);
        statuses.push(r.status);
        await r.arrayBuffer();
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: 32 }, worker));
    const elapsed = (Date.now() - started) / 1000;
    const served = statuses.filter((s) => s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    console.log(`flood: ${served} of ${total} polls served, ${limited} refused with 429, in ${elapsed.toFixed(2)} s`);
    expect(served + limited).toBe(total);
    // Never more than the burst and the refill over the flood's duration; how many that leaves
    // refused depends on how fast this machine sends (alone on two cores: about a third of them).
    expect(served).toBeGreaterThanOrEqual(Math.min(total, limitConnectionRate * 5));
    expect(served).toBeLessThanOrEqual(limitConnectionRate * 5 + Math.ceil(elapsed * limitConnectionRate));
  });
});
