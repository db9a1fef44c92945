import { setTimeout as pace } from 'node:timers/promises';
import { expect, vi } from 'vitest';
import { type ConfiguredServer, startConfigured } from './configured-server.js';
import { signToken } from './tokens.js';

// Token expiry in the middle of a publication stream: a server whose `feed` namespace needs an
// authenticated connection, a steady publisher that keeps going until the subscriber's token has
// run out (and a while after, so publications fall into the reconnect), and the one assertion
// that matters: every offset arrived exactly once, in order.

/**
 * Leeway 0: the token stops being valid at its `exp`, so the server's expiry and its refusals
 * meet at one instant. History big enough for a reconnect to recover the whole gap.
 */
export function startExpiryServer(): Promise<ConfiguredServer> {
  return startConfigured('memory', 'namespaces:\n  feed: { subscribe: authenticated }\n', {
    HUBBUB_TOKEN_LEEWAY: '0',
    HUBBUB_HISTORY_SIZE: '100000',
    HUBBUB_POLL_TIMEOUT: '5',
  });
}

/** ada's connection token, valid for `seconds` (exp is whole seconds: it runs out within seconds − 1 … seconds). */
export function adaToken(srv: ConfiguredServer, seconds: number, issuedAgo = 0): Promise<string> {
  return signToken(srv.secret, { sub: 'ada' }, { expiresIn: seconds, issuedAt: Math.floor(Date.now() / 1000) - issuedAgo });
}

/** Gives up when the expiry never shows: the test then fails instead of publishing forever. */
const MAX_PUBLICATIONS = 5000;

/**
 * Publishes 1, 2, 3… to `channel` (a fresh one: its offsets are 1..n) a few ms apart: at least `min`, and until `expired()` has held
 * for `after` more publications. Returns how many were published (offsets 1..n).
 */
export async function publishStream(srv: ConfiguredServer, channel: string, expired: () => boolean, { min = 200, after = 50 } = {}): Promise<number> {
  let n = 0;
  let expiredAt: number | undefined;
  while (n < min || expiredAt === undefined || n < expiredAt + after) {
    if (n >= MAX_PUBLICATIONS) throw new Error(`the token expiry did not show within ${n} publications`);
    await srv.publish(channel, n + 1);
    n += 1;
    if (expiredAt === undefined && expired()) expiredAt = n;
    // Pacing, not waiting for anything: a steady stream rather than one burst.
    await pace(2);
  }
  return n;
}

export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** Waits until `offsets()` has `n` entries, then checks they are exactly 1..n in order. */
export async function expectEveryOffsetOnce(offsets: () => number[], n: number): Promise<void> {
  await vi.waitFor(
    () => {
      if (offsets().length < n) throw new Error(`${offsets().length} of ${n} publications delivered`);
    },
    { timeout: 15_000, interval: 20 },
  );
  expect(offsets()).toEqual(range(n));
}
