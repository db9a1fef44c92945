// Publishes through the REST API over a few keep-alive connections: each publication's `data` is
// `{"i":<per-channel sequence>,"t":<publish time>,"p":"<padding>"}`, so subscribers can count
// gaps and latency without parsing, and the whole is about `bytes` long.
import http from 'node:http';
import { now } from './subscribers.js';

/** What the requests since `timed()` did: how long each took (ms), and which failed. */
export interface PublishRecord {
  durations: number[];
  failed: number;
  errors: string[];
}

export class Publisher {
  private readonly agent: http.Agent;
  /** Next sequence number per channel; it carries on across phases, as subscribers expect. */
  private readonly seq = new Map<string, number>();
  private readonly pad: string;
  private record: PublishRecord = { durations: [], failed: 0, errors: [] };

  constructor(
    private readonly url: string,
    private readonly apiKey: string,
    bytes: number,
    /** Requests in flight at most (one connection each). */
    readonly inFlight: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
    // {"i":123,"t":1700000000000.123,"p":""} is about 40 bytes.
    this.pad = 'x'.repeat(Math.max(0, bytes - 40));
  }

  /**
   * Numbered and time-stamped now, when called, even if it waits for a free connection. Never
   * rejects: a refused publish is counted in the record (a server out of file descriptors resets
   * new connections, and the bench reports that rather than dying of it).
   */
  publish(channel: string): Promise<boolean> {
    return this.post('/api/publish', `{"channel":"${channel}","data":${this.data(this.take(channel))}}`);
  }

  /** One request publishing to every channel of `channels`; they must share one sequence position. */
  broadcast(channels: string[]): Promise<boolean> {
    const i = this.seq.get(channels[0]!) ?? 0;
    for (const c of channels) if (this.take(c) !== i) throw new Error(`broadcast over channels at different positions (${c})`);
    return this.post('/api/broadcast', `{"channels":${JSON.stringify(channels)},"data":${this.data(i)}}`);
  }

  /** Runs `count` tasks with at most `inFlight` of them waiting for an answer. */
  async burst(count: number, task: (k: number) => Promise<unknown>): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(this.inFlight, count) }, async () => {
        while (next < count) await task(next++);
      }),
    );
  }

  /** Starts a new record of the requests that follow. */
  timed(): PublishRecord {
    this.record = { durations: [], failed: 0, errors: [] };
    return this.record;
  }

  close(): void {
    this.agent.destroy();
  }

  private take(channel: string): number {
    const i = this.seq.get(channel) ?? 0;
    this.seq.set(channel, i + 1);
    return i;
  }

  private data(i: number): string {
    return `{"i":${i},"t":${now().toFixed(3)},"p":"${this.pad}"}`;
  }

  private post(path: string, body: string): Promise<boolean> {
    const started = performance.now();
    const record = this.record;
    const failed = (why: string) => {
      record.failed += 1;
      if (record.errors.length < 5) record.errors.push(`${path}: ${why}`);
      return false;
    };
    return new Promise((resolve) => {
      const req = http.request(
        `${this.url}${path}`,
        { method: 'POST', agent: this.agent, headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            record.durations.push(performance.now() - started);
            resolve(res.statusCode === 200 || failed(`${res.statusCode} ${text.slice(0, 300)}`));
          });
        },
      );
      req.on('error', (err) => resolve(failed(err.message)));
      req.end(body);
    });
  }
}
