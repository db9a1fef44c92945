import type { Socket } from 'node:net';

/**
 * An interval that runs only while a transport has connections to tend: started on demand, so a
 * transport whose shutdown() stopped it works again after the app listens anew.
 */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly everyMs: number,
    private readonly tick: () => void,
  ) {}

  ensureRunning(): void {
    if (this.timer) return;
    this.timer = setInterval(this.tick, this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * Whether the peer of a socket takes what is written to it, sampled once per tick (nothing is
 * counted per write). A socket that had bytes waiting at the last tick and has completed no write
 * since is stalled: the kernel's buffers are full because the peer reads nothing.
 */
export class StallWatch {
  private completed = -1;

  constructor(private readonly socket: Socket) {}

  /** Call once per tick. */
  stalled(): boolean {
    const waiting = this.socket.writableLength;
    if (waiting === 0) {
      this.completed = -1;
      return false;
    }
    // bytesWritten also counts what is still buffered, so the difference moves only when a write
    // completes (the kernel took it), not when more is queued. Writes must be Buffers or ASCII
    // strings for that: writableLength counts characters.
    const completed = this.socket.bytesWritten - waiting;
    const stalled = completed === this.completed;
    this.completed = completed;
    return stalled;
  }

  /**
   * Drops a stalled socket with a reset. A plain destroy() would leave the kernel an orphan socket
   * still holding its full send buffer (about 4 MB on loopback) for minutes of zero-window probes.
   */
  drop(): void {
    this.socket.resetAndDestroy();
  }
}
