// A long-poll whose session ends while the poll is still subscribing (its recovery is reading
// history): a user disconnect through the API must answer it at once, as it does a poll already
// waiting. The end used to be lost, and the poll held on until its timeout with a revoked token.
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { HistoryQuery } from '../server/broker/broker.js';
import { MemoryBroker } from '../server/broker/memory.js';
import { startServer } from './support/server.js';
import { signToken } from './support/tokens.js';

/** history() answers only when the test says so: a recovering subscribe stays pending. */
class HistoryGatedBroker extends MemoryBroker {
  readonly gates: Array<() => void> = [];
  gating = false;

  constructor() {
    super({ historySize: 10, historyTtlMs: 60_000, sweepIntervalMs: 0 });
  }

  override history(channel: string, query?: HistoryQuery) {
    if (!this.gating) return super.history(channel, query);
    return new Promise<Awaited<ReturnType<MemoryBroker['history']>>>((resolve, reject) => {
      this.gates.push(() => super.history(channel, query).then(resolve, reject));
    });
  }
}

describe('a long-poll whose session ends while it subscribes', () => {
  it('is answered at once when its user is disconnected, not after its timeout', async () => {
    const broker = new HistoryGatedBroker();
    const secret = randomBytes(24).toString('hex');
    await using srv = await startServer({ HUBBUB_TOKEN_SECRET: secret, HUBBUB_POLL_TIMEOUT: '60' }, { broker });
    const token = await signToken(secret, { sub: 'ada' }, { expiresIn: 3600, issuedAt: Math.floor(Date.now() / 1000) - 5 });
    const { epoch, offset } = await srv.publish('news', 'one');
    broker.gating = true;
    const abort = new AbortController();
    const poll = fetch(`${srv.url}/poll?${new URLSearchParams({ channels: 'news', cursor: `${epoch}:${offset}` })}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    try {
      await vi.waitFor(() => expect(broker.gates).toHaveLength(1));
      const res = await srv.api('/api/users/ada/disconnect', { method: 'POST' });
      expect(await res.json()).toEqual({ user: 'ada', connections: 1 });
      broker.gates.shift()!();
      // Nothing is published: only the disconnect can answer it before the 60 s timeout.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise((resolve) => (timer = setTimeout(resolve, 10_000, 'still waiting after 10 s')));
      const answered = await Promise.race([poll.then((r) => r.json()), deadline]);
      clearTimeout(timer);
      expect(answered).toMatchObject({ cursor: `${epoch}:${offset}`, publications: [] });
    } finally {
      abort.abort();
      await poll.catch(() => undefined);
    }
  });
});
