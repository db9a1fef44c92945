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
