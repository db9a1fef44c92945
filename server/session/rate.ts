// Token buckets: the one rate-limiting primitive, used per IP (new connections, failed
// credentials), per WebSocket (commands) and per user (client publishes). Hand-written rather than
// a library: it is a dozen lines, and these sit on command paths where an allocation per call counts.

export interface Rate {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size: how many may be taken at once after a quiet spell. */
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private stamp: number;

  constructor(
    private readonly rate: Rate,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = rate.burst;
    this.stamp = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** ms until one token is back (for Retry-After). */
  retryAfterMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate.perSecond) * 1000);
  }

  /** A full bucket is the same as no bucket: registries drop those. */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.rate.burst;
  }

  private refill(): void {
    const t = this.now();
    const elapsed = (t - this.stamp) / 1000;
    if (elapsed > 0) {
      this.tokens = Math.min(this.rate.burst, this.tokens + elapsed * this.rate.perSecond);
      this.stamp = t;
    }
  }
}

/**
 * One bucket per key (an IP, a user), bounded: full buckets are dropped by sweep(), and past
 * `maxKeys` the oldest key is evicted, which only ever forgives (a fresh bucket is full).
 */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: Rate,
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** 0 when allowed, else the ms to wait. */
  take(key: string): number {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      b = new TokenBucket(this.rate, this.now);
      this.buckets.set(key, b);
    }
    return b.take() ? 0 : Math.max(1, b.retryAfterMs());
  }

  /** ms until `key` may take again, without taking. */
  waitFor(key: string): number {
    return this.buckets.get(key)?.retryAfterMs() ?? 0;
  }

  sweep(): void {
    for (const [key, b] of this.buckets) if (b.full) this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** Concurrent connections per key (IP), with a ceiling. */
export class ConcurrencyCounter {
  private readonly counts = new Map<string, number>();

  /** The ceiling; a reload may change it (connections above a lowered one stay open). */
  constructor(public max: number) {}

  acquire(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = (this.counts.get(key) ?? 0) - 1;
    if (n <= 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  get size(): number {
    return this.counts.size;
  }
}
