// Steady publishing through the REST API, round-robin over the channels. Publications of one channel
// go one after the other, so the acknowledged offsets say exactly what every subscriber must receive.
import type { StreamPosition } from '../contract/index.js';
import type { SoakData } from './soak-check.js';

export class SoakPublisher {
  /** Last acknowledged position per channel. */
  readonly published = new Map<string, StreamPosition>();
  sent = 0;
  failed = 0;
  readonly errors: string[] = [];
  private readonly lanes = new Map<string, Promise<void>>();
  private readonly seq = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly pad: string;

  constructor(
    private readonly url: string,
    private readonly apiKey: string,
    private readonly channels: string[],
    payloadBytes: number,
  ) {
    this.pad = 'x'.repeat(payloadBytes);
  }

  /** Publishes `rate` per second until stop(); catches up after a late tick rather than drifting. */
  start(rate: number): void {
    const started = performance.now();
    let due = 0;
    this.timer = setInterval(() => {
      const target = Math.floor(((performance.now() - started) / 1000) * rate);
      for (; due < target; due++) this.publish(this.channels[due % this.channels.length]!);
    }, 20);
  }

  /** Stops and waits for the publications in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.lanes.values());
  }

  private publish(channel: string): void {
    const seq = (this.seq.get(channel) ?? 0) + 1;
    this.seq.set(channel, seq);
    const data: SoakData = { seq, t: Date.now(), pad: this.pad };
    const previous = this.lanes.get(channel) ?? Promise.resolve();
    this.lanes.set(channel, previous.then(() => this.send(channel, data)));
  }

  private async send(channel: string, data: SoakData): Promise<void> {
    this.sent += 1;
    try {
      const res = await fetch(`${this.url}/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel, data }),
      });
      const body = (await res.json()) as StreamPosition & { code?: string };
      if (res.status !== 200) throw new Error(`${res.status} ${body.code}`);
      this.published.set(channel, { epoch: body.epoch, offset: body.offset });
    } catch (err) {
      this.failed += 1;
      if (this.errors.length < 20) this.errors.push(`${channel}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
