import type { Timers } from '../../client/index.js';

/**
 * Timers that fire only when the test says so, for the client's injected `timers` option: by their
 * exact delay (`fire`), or by moving a virtual clock forward (`advance`).
 */
export class ManualTimers implements Timers {
  private seq = 0;
  /** Virtual ms since construction; only `advance` moves it. */
  now = 0;
  readonly pending = new Map<number, { fn: () => void; ms: number; due: number }>();

  setTimeout = (fn: () => void, ms: number): number => {
    this.pending.set(++this.seq, { fn, ms, due: this.now + ms });
    return this.seq;
  };

  clearTimeout = (handle: unknown): void => void this.pending.delete(handle as number);

  /** Runs the pending timers of exactly `ms` milliseconds, whatever the clock says. */
  fire(ms: number): void {
    for (const [id, t] of [...this.pending]) {
      if (t.ms !== ms) continue;
      this.pending.delete(id);
      t.fn();
    }
  }

  /** Moves the clock `ms` forward, running every timer that falls due on the way, in due order. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const next = [...this.pending].filter(([, t]) => t.due <= until).sort((a, b) => a[1].due - b[1].due || a[0] - b[0])[0];
      if (!next) break;
      this.pending.delete(next[0]);
      this.now = next[1].due;
      next[1].fn();
    }
    this.now = until;
  }
}
