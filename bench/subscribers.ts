// Cheap bench subscribers, the same for Hubbub and the floor: ws without compression, and SSE and
// long-poll on raw keep-alive sockets (raw-http.ts). A publication is not parsed: its `data` is
// `{"i":<sequence>,"t":<publish time>,...}` and the two numbers are read straight from the text.
import WebSocket from 'ws';
import { RawHttp } from './raw-http.js';

export type Transport = 'websocket' | 'sse' | 'poll';
export const TRANSPORTS: Transport[] = ['websocket', 'sse', 'poll'];

/** Wall clock with sub-ms resolution, comparable between processes on one machine. */
export const now = () => performance.timeOrigin + performance.now();

/**
 * The sequence numbers one subscriber has seen. Publications sent concurrently may reach the
 * channel in another order than their numbers, so gaps and repeats are counted as a set, not a run.
 */
export class Seen {
  private bits = new Uint8Array(64);
  /** New publications since the tally's last reset. */
  phase = 0;

  /** false when `i` was seen before. */
  add(i: number): boolean {
    const at = i >> 3;
    if (at >= this.bits.length) {
      const grown = new Uint8Array(Math.max(at + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (i & 7);
    if (this.bits[at]! & mask) return false;
    this.bits[at] = this.bits[at]! | mask;
    this.phase += 1;
    return true;
  }
}

/** What every subscriber of one client process reports into: counters only, no per-delivery allocation. */
export class Tally {
  unique = 0;
  /** Publications seen twice. */
  dups = 0;
  /** Poll answers with `recovered: false` after the first poll: the server signalled a gap. */
  unrecovered = 0;
  /** Poll answers after the first poll: publications per answer is how much a poll batches. */
  answers = 0;
  /** Subscribers whose connection ended without being closed by the bench. */
  dropped = 0;
  errors: string[] = [];
  lastAt = 0;
  latencies: Float64Array | undefined;
  samples = 0;
  /** Every subscriber's set, for how many publications each got in a phase. */
  private readonly subscribers: Seen[] = [];

  /** Counts `seen` in spread() from now on (an opened subscriber). */
  add(seen: Seen): void {
    this.subscribers.push(seen);
  }

  /** Every subscriber was closed. */
  clear(): void {
    this.subscribers.length = 0;
  }

  reset(recordLatency: boolean, capacity: number): void {
    this.unique = this.dups = this.unrecovered = this.answers = this.dropped = this.lastAt = this.samples = 0;
    this.latencies = recordLatency ? new Float64Array(capacity) : undefined;
    for (const s of this.subscribers) s.phase = 0;
  }

  /** How many subscribers got how many publications since the last reset: {count: subscribers}. */
  spread(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const s of this.subscribers) out[s.phase] = (out[s.phase] ?? 0) + 1;
    return out;
  }

  record(seen: Seen, i: number, t: number): void {
    const at = now();
    if (!seen.add(i)) {
      this.dups += 1;
      return;
    }
    this.unique += 1;
    this.lastAt = at;
    const l = this.latencies;
    if (l) {
      if (this.samples === l.length) {
        this.latencies = new Float64Array(l.length * 2);
        this.latencies.set(l);
      }
      this.latencies![this.samples++] = at - t;
    }
  }

  /** Reads `"i":<n>` and `"t":<n>` from a publication's text. */
  recordText(seen: Seen, text: string): void {
    const a = text.indexOf('"i":') + 4;
    const b = text.indexOf('"t":', a) + 4;
    this.record(seen, Number(text.slice(a, text.indexOf(',', a))), Number(text.slice(b, text.indexOf(',', b))));
  }

  error(what: string): void {
    if (this.errors.length < 5) this.errors.push(what);
  }
}

export interface Subscriber {
  readonly seen: Seen;
  close(): void;
}

export interface Target {
  url: string;
  channel: string;
  token: string | undefined;
  localAddress: string | undefined;
}

function wsSubscriber(t: Target, tally: Tally): Promise<Subscriber> {
  const seen = new Seen();
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(t.url.replace('http', 'ws') + '/ws', { perMessageDeflate: false, skipUTF8Validation: true, ...(t.localAddress ? { localAddress: t.localAddress } : {}) });
    let open = false;
    let closing = false;
    ws.on('error', (err) => (open ? tally.error(`websocket: ${err.message}`) : reject(err)));
    ws.on('close', (code) => {
      if (!open) reject(new Error(`websocket closed before subscribed (${code})`));
      else if (!closing) (tally.dropped += 1), tally.error(`websocket closed ${code}`);
    });
    ws.on('open', () => {
      if (t.token) ws.send(JSON.stringify({ id: 2, type: 'connect', token: t.token }));
      ws.send(JSON.stringify({ id: 1, type: 'subscribe', channel: t.channel }));
    });
    ws.on('message', (raw: Buffer) => {
      const s = raw.toString('latin1');
      if (s.includes('"type":"publication"')) tally.recordText(seen, s);
      else if (s.includes('"type":"subscribed"')) {
        open = true;
        resolve({ seen, close: () => ((closing = true), ws.terminate()) });
      } else if (s.includes('"type":"error"')) tally.error(`websocket frame ${s.slice(0, 200)}`);
    });
  });
}

const authHeader = (token: string | undefined) => (token ? `authorization: Bearer ${token}\r\n` : '');

async function sseSubscriber(t: Target, tally: Tally): Promise<Subscriber> {
  const seen = new Seen();
  const http = await RawHttp.connect(t.url, t.localAddress);
  let open = false;
  return new Promise((resolve, reject) => {
    let buf = '';
    const subscriber = { seen, close: () => http.close() };
    http.onClose = (err) => (open ? ((tally.dropped += 1), tally.error(`sse: ${err.message}`)) : reject(err));
    http.get(
      `/sse?channels=${t.channel}`,
      {
        head: (status) => status !== 200 && reject(new Error(`sse ${status}`)),
        body(piece) {
          buf = buf === '' ? piece : buf + piece;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            if (block.includes('event: publication')) tally.recordText(seen, block);
            else if (block.includes('event: subscribed')) (open = true), resolve(subscriber);
            else if (block.includes('event: disconnect')) tally.error(`sse ${block}`);
          }
        },
        end: () => open && ((tally.dropped += 1), tally.error('sse stream ended')),
      },
      authHeader(t.token),
    );
  });
}

interface PollBody {
  cursor: string;
  subscriptions: Array<{ recovered: boolean }>;
  publications: Array<{ data: { i: number; t: number } }>;
}

/** A loop of long-polls carrying the cursor; open once the first (cursor-less) poll was answered. */
async function pollSubscriber(t: Target, tally: Tally): Promise<Subscriber> {
  const seen = new Seen();
  const http = await RawHttp.connect(t.url, t.localAddress);
  const base = `/poll?channels=${t.channel}`;
  const headers = authHeader(t.token);
  let stopped = false;
  let first = true;
  return new Promise((resolve, reject) => {
    http.onClose = (err) => (first ? reject(err) : stopped || ((tally.dropped += 1), tally.error(`poll: ${err.message}`)));
    const next = (cursor: string | undefined) => {
      let body = '';
      let status = 0;
      http.get(
        cursor === undefined ? base : `${base}&cursor=${cursor}`,
        {
          head: (s) => (status = s),
          body: (piece) => (body += piece),
          end() {
            if (stopped) return;
            if (status !== 200) {
              tally.error(`poll ${status} ${body.slice(0, 200)}`);
              if (first) reject(new Error(`poll ${status}`));
              return;
            }
            const r = JSON.parse(body) as PollBody;
            if (first) (first = false), resolve({ seen, close: () => ((stopped = true), http.close()) });
            else {
              tally.answers += 1;
              for (const s of r.subscriptions) if (!s.recovered) tally.unrecovered += 1;
            }
            for (const p of r.publications) tally.record(seen, p.data.i, p.data.t);
            next(r.cursor);
          },
        },
        headers,
      );
    };
    next(undefined);
  });
}

const OPEN = { websocket: wsSubscriber, sse: sseSubscriber, poll: pollSubscriber } as const;

export function openSubscriber(transport: Transport, target: Target, tally: Tally): Promise<Subscriber> {
  return OPEN[transport](target, tally);
}
