// Leak tests that count, not time: thousands of connect/subscribe/disconnect cycles per transport,
// then every registry that grows with connections must be back to its starting size.
// LEAK_CYCLES=20000 npx vitest run test/leak.test.ts runs a bigger churn.
import { describe, expect, it, vi } from 'vitest';
import { MemoryBroker } from '../server/broker/memory.js';
import { openRequest, pollAnswered, readBody, runCycles, sseSubscribeAndLeave, wsSubscribeAndLeave } from './support/churn.js';
import { type TestServer, startServer } from './support/server.js';

/** Thousands of loopback connections from one address: the per-address limits are set for it, as a load test would. */
const CHURN_LIMITS = { HUBBUB_LIMIT_CONNECTION_RATE: '1000000', HUBBUB_LIMIT_CONNECTIONS_PER_IP: '1000000' };

const CYCLES = Number(process.env.LEAK_CYCLES ?? 2000);
const CONCURRENCY = 25;
/** Cycles share a few channels: the broker's per-channel state is bounded by channels, not by connections. */
const CHANNELS = 8;
/** Generous for a loaded 2-core machine; the count, not the time, is what is checked. */
const TIMEOUT = 60_000 + CYCLES * 20;
/** The hub keeps following a channel 2 s after its last subscriber (HubOptions.lingerMs). */
const SETTLED = { timeout: 15_000, interval: 50 };

const channel = (prefix: string, i: number) => `${prefix}-${i % CHANNELS}`;

/** Waits until every registry is back to `start`, and the broker holds no more streams than channels used. */
async function expectBackTo(srv: TestServer, start: ReturnType<TestServer['app']['registries']>): Promise<void> {
  await vi.waitFor(() => expect(srv.app.registries()).toEqual(start), SETTLED);
  // The memory broker keeps one stream (position, history) per channel ever used, swept once idle and empty.
  expect(srv.app.broker).toBeInstanceOf(MemoryBroker);
  expect((srv.app.broker as MemoryBroker).streamCount).toBeLessThanOrEqual(CHANNELS);
  expect(srv.warnings).toEqual([]);
}

// Concurrent: the four servers wait out their hub's linger at the same time.
describe.concurrent(`registries return to their starting size after ${CYCLES} cycles per transport`, () => {
  it('WebSocket connections that subscribe and close leave nothing behind', { timeout: TIMEOUT }, async () => {
    await using srv = await startServer(CHURN_LIMITS);
    const start = srv.app.registries();
    await runCycles(CYCLES, CONCURRENCY, (i) => wsSubscribeAndLeave(srv.url, channel('ws', i)));
    await expectBackTo(srv, start);
  });

  it('SSE streams whose client disconnects first leave no tracked socket', { timeout: TIMEOUT }, async () => {
    await using srv = await startServer(CHURN_LIMITS);
    const start = srv.app.registries();
    await runCycles(CYCLES, CONCURRENCY, (i) => sseSubscribeAndLeave(srv.url, channel('sse', i)));
    await expectBackTo(srv, start);
  });

  it('long-polls abandoned mid-wait leave no tracked socket', { timeout: TIMEOUT }, async () => {
    await using srv = await startServer({ ...CHURN_LIMITS, HUBBUB_POLL_TIMEOUT: '60' });
    const start = srv.app.registries();
    // Nothing is published on these channels, so a poll from the current cursor waits.
    const cursors: string[] = [];
    for (let c = 0; c < CHANNELS; c++) cursors.push(await pollAnswered(srv.url, channel('wait', c)));
    // In waves, so each poll is known to be waiting at the server before its client leaves.
    for (let done = 0; done < CYCLES; done += CONCURRENCY) {
      const wave = Math.min(CONCURRENCY, CYCLES - done);
      const polls = Array.from({ length: wave }, (_, k) => {
        const c = (done + k) % CHANNELS;
        return openRequest(`${srv.url}/poll?channels=${channel('wait', c)}&cursor=${cursors[c]}`);
      });
      await vi.waitFor(() => expect(srv.app.registries().transports.poll).toBe(wave), { ...SETTLED, interval: 2 });
      await Promise.all(polls.map((p) => p.leave()));
    }
    await expectBackTo(srv, start);
  });

  it('long-polls answered by a publication leave nothing behind', { timeout: TIMEOUT }, async () => {
    await using srv = await startServer({ ...CHURN_LIMITS, HUBBUB_POLL_TIMEOUT: '60' });
    const start = srv.app.registries();
    await runCycles(CYCLES, CONCURRENCY, async (i) => {
      const ch = channel('answered', i);
      const cursor = await pollAnswered(srv.url, ch);
      // Published after the cursor, so the second poll has news whether it is waiting yet or not.
      const answer = pollAnswered(srv.url, ch, cursor);
      await srv.app.hub.publish(ch, i);
      expect(await answer).not.toBe(cursor);
    });
    await expectBackTo(srv, start);
  });
});

describe('a connection dropped from inside its own subscribe', () => {
  it('an SSE stream dropped as a slow consumer while its backlog is delivered does not stay a hub subscriber', async () => {
    await using srv = await startServer({ ...CHURN_LIMITS, HUBBUB_MAX_QUEUE_BYTES: '1024' });
    const start = srv.app.registries();
    // ~6 MB of backlog: far more than a loopback socket takes in one synchronous burst.
    const big = 'x'.repeat(60_000);
    const first = await srv.publish('backlog', big);
    for (let i = 1; i < srv.config.historySize; i++) await srv.publish('backlog', big);
    const stream = openRequest(`${srv.url}/sse?channels=backlog&cursor=${first.epoch}:0`);
    const body = await readBody(await stream.response);
    expect(body).toContain('"name":"slow_consumer"');
    await expectBackTo(srv, start);
  });
});
