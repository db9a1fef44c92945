import { ABNORMAL_CLOSURE } from '../../contract/disconnect.js';
import { HubbubError, HubbubProtocolError } from '../errors.js';
import type { ChannelWanted, ClientTransport, CloseInfo, TransportContext, TransportFactory } from '../types.js';
import { cursorOf, isPollResponse, parseJson, realtimeUrl, retryAfterMs, tokensOf } from '../wire.js';


type Outcome = 'next' | 'stop';

/**
 * Long-poll at /poll: one request at a time, each with the cursor of the client's positions, so any
 * node can answer any request. The cursor is built from the core's positions rather than copied
 * from the last response: after a subscribe, an unsubscribe or a detected gap they are the truth.
 */
class PollTransport implements ClientTransport {
  readonly #ctx: TransportContext;
  #opened = false;
  #closed = false;
  #running = false;
  #restartQueued = false;
  /** Set just before aborting a request whose channel list is outdated, to tell it from a failure. */
  #restarting = false;
  #abort: AbortController | undefined;

  constructor(ctx: TransportContext) {
    this.#ctx = ctx;
    queueMicrotask(() => void this.#run());
  }

  subscribe(): void {
    this.#queueRestart();
  }

  unsubscribe(): void {
    this.#queueRestart();
  }

  close(): void {
    this.#closed = true;
    this.#abort?.abort();
  }

  /** A waiting request would hold the old channel list for up to pollTimeout: cut it short. */
  #queueRestart(): void {
    if (this.#restartQueued || this.#closed) return;
    this.#restartQueued = true;
    queueMicrotask(() => {
      this.#restartQueued = false;
      if (this.#closed) return;
      if (!this.#running) return void this.#run();
      if (this.#abort) {
        this.#restarting = true;
        this.#abort.abort();
      }
    });
  }

  async #run(): Promise<void> {
    if (this.#running || this.#closed) return;
    this.#running = true;
    try {
      for (;;) {
        const wanted = this.#closed ? [] : this.#ctx.channels();
        // No channel, no request: idle until the next subscribe.
        if (wanted.length === 0) return;
        if ((await this.#pollOnce(wanted)) === 'stop') return;
      }
    } finally {
      this.#running = false;
    }
  }

  async #pollOnce(wanted: ChannelWanted[]): Promise<Outcome> {
    const { env, baseUrl, pollTimeout, connectTimeout, handlers } = this.#ctx;
    const url = realtimeUrl(baseUrl, '/poll', {
      channels: wanted.map((w) => w.channel).join(','),
      cursor: cursorOf(wanted),
      tokens: tokensOf(wanted),
      timeout: String(pollTimeout),
    });
    // Read per request, so a token refreshed ahead of expiry is used from the next poll on.
    const token = this.#ctx.token();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    this.#restarting = false;
    const abort = (this.#abort = new AbortController());
    // The server answers by pollTimeout; a request still open well after that is stuck somewhere.
    const timer = env.timers.setTimeout(() => abort.abort(), pollTimeout + connectTimeout);
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const res = await env.fetch!(url, { headers, signal: abort.signal });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await res.text();
    } catch (err) {
      if (this.#closed) return 'stop';
      if (this.#restarting) {
        this.#restarting = false;
        return 'next';
      }
      return this.#finish({ code: ABNORMAL_CLOSURE, reason: `poll failed: ${String(err)}` });
    } finally {
      env.timers.clearTimeout(timer);
      this.#abort = undefined;
    }
    if (this.#closed) return 'stop';
    const body = parseJson(text);
    if (status < 200 || status > 299) {
      const error = HubbubError.fromResponse(status, body ?? text, { retryAfter: retryAfterMs(retryAfter, env.now()) });
      return this.#finish({ code: ABNORMAL_CLOSURE, reason: error.message, error });
    }
    if (!isPollResponse(body)) {
      handlers.onError(new HubbubProtocolError('poll', text));
      return this.#finish({ code: ABNORMAL_CLOSURE, reason: 'malformed poll response' });
    }
    if (!this.#opened) {
      this.#opened = true;
      handlers.onOpen({});
    }
    // Subscriptions first: they set where each channel's publications of this response start.
    // A channel the app did not ask for is the server's own (the token's).
    const asked = new Set(wanted.filter((w) => !w.server).map((w) => w.channel));
    for (const s of body.subscriptions) if (!this.#closed) handlers.onSubscribed(s, !asked.has(s.channel));
    for (const p of body.publications) if (!this.#closed) handlers.onPublication(p);
    return this.#closed ? 'stop' : 'next';
  }

  #finish(info: Omit<CloseInfo, 'opened'>): Outcome {
    if (this.#closed) return 'stop';
    this.#closed = true;
    this.#ctx.handlers.onClose({ ...info, opened: this.#opened });
    return 'stop';
  }
}

export const pollTransport: TransportFactory = {
  name: 'poll',
  capabilities: { commands: false, streaming: false },
  isAvailable: (env) => env.fetch !== undefined,
  open: (ctx) => new PollTransport(ctx),
};
