import type { Logger } from './logger.js';

// Anyone can send malformed requests, oversized frames or abort a POST halfway; a line per
// occurrence would let them fill the disk. Each kind is counted, and logged at most once per
// interval with the number seen since its last line.

export class SampledLog {
  private readonly kinds = new Map<string, { count: number; lastLogged: number; suppressed: number }>();

  constructor(
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, message: string, err?: unknown): void {
    let k = this.kinds.get(kind);
    if (!k) {
      // The set of kinds is small and fixed by the callers (error codes, frame faults).
      k = { count: 0, lastLogged: Number.NEGATIVE_INFINITY, suppressed: 0 };
      this.kinds.set(kind, k);
    }
    k.count += 1;
    const t = this.now();
    if (t - k.lastLogged < this.intervalMs) {
      k.suppressed += 1;
      return;
    }
    const more = k.suppressed > 0 ? ` (and ${k.suppressed} more like it since the last line)` : '';
    k.lastLogged = t;
    k.suppressed = 0;
    this.logger.warn(`${message}${more}`, err);
  }

  /** Occurrences per kind since start, logged or not. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.kinds].map(([kind, k]) => [kind, k.count]));
  }
}
