export interface BackoffOptions {
  /** Ceiling of the first retry's delay, ms. */
  minDelay: number;
  /** The ceiling never grows past this, ms. */
  maxDelay: number;
  /** A number in [0, 1); injected so tests are deterministic. */
  random: () => number;
}

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(maxDelay, minDelay * 2^attempt)).
 * Jitter over the whole range (not around the ceiling) is what spreads a crowd of clients that all
 * lost the same node at the same moment, so the node they reconnect to is not hit in one burst.
 */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const ceiling = Math.min(o.maxDelay, o.minDelay * 2 ** Math.min(attempt, 30));
  const r = Math.min(Math.max(o.random(), 0), 1);
  return Math.floor(r * ceiling);
}
