import { SSE_EVENTS } from '../../contract/frames.js';
import { HubbubError, HubbubProtocolError } from '../errors.js';
import type { ClientTransport, EventSourceLike, SseMessageEvent, TransportContext, TransportFactory } from '../types.js';
import { cursorOf, isPublication, isSubscribeResult, parseJson, realtimeUrl } from '../wire.js';

const ABNORMAL = 1006;

/**
 * Server-Sent Events at /sse: one stream for the whole channel list. A change of the channel set
 * restarts the stream with a cursor built from the client's positions.
 *
 * On an error the stream is closed and the core reconnects, instead of letting EventSource retry on
 * its own: one backoff policy with jitter for every transport, where EventSource's fixed retry
 * interval would bring every client of a restarted node back in the same instant. Nothing is lost,
 * since the cursor the core sends equals the Last-Event-ID the browser would have sent.
 */
class SseTransport implements ClientTransport {
  readonly #ctx: TransportContext;
  #es: EventSourceLike | undefined;
  #opened = false;
  #closed = false;
  #restartQueued = false;
  #connectTimer: unknown;

  constructor(ctx: TransportContext) {
    this.#ctx = ctx;
    this.#start();
  }

  // Commands do not exist on SSE: both restart the stream with the new list, batched per tick.
  subscribe(): void {
    this.#queueRestart();
  }

  unsubscribe(): void {
    this.#queueRestart();
  }

  close(): void {
    this.#closed = true;
    this.#stopStream();
  }

  #queueRestart(): void {
    if (this.#restartQueued || this.#closed) return;
    this.#restartQueued = true;
    queueMicrotask(() => {
      this.#restartQueued = false;
      if (!this.#closed) this.#start();
    });
  }

  #start(): void {
    this.#stopStream();
    const wanted = this.#ctx.channels();
    // No channel, no stream: the transport idles until the first subscribe.
    if (wanted.length === 0) return;
    const { env, baseUrl, connectTimeout } = this.#ctx;
    const es = new env.EventSource!(realtimeUrl(baseUrl, '/sse', { channels: wanted.map((w) => w.channel).join(','), cursor: cursorOf(wanted) }));
    this.#es = es;
    if (!this.#opened) this.#connectTimer = env.timers.setTimeout(() => this.#finish({ code: ABNORMAL, reason: 'connect timeout' }), connectTimeout);
    es.onopen = () => {
      if (es !== this.#es) return;
      env.timers.clearTimeout(this.#connectTimer);
      if (this.#opened) return;
      this.#opened = true;
      this.#ctx.handlers.onOpen({});
    };
    // A browser EventSource cannot read the error body; FetchEventSource passes it along.
    es.onerror = (ev: { status?: number; body?: string }) => {
      if (es !== this.#es) return;
      const error = ev?.status ? HubbubError.fromResponse(ev.status, parseJson(ev.body) ?? ev.body) : undefined;
      this.#finish(error ? { code: ABNORMAL, reason: error.message, error } : { code: ABNORMAL, reason: 'SSE stream failed' });
    };
    const on = (type: string, fn: (data: unknown, raw: string) => void) =>
      es.addEventListener(type, (ev: SseMessageEvent) => {
        if (es === this.#es) fn(parseJson(ev.data), ev.data);
      });
    on(SSE_EVENTS.subscribed, (d, raw) => (isSubscribeResult(d) ? this.#ctx.handlers.onSubscribed(d) : this.#malformed(raw)));
    on(SSE_EVENTS.publication, (d, raw) => (isPublication(d) ? this.#ctx.handlers.onPublication(d) : this.#malformed(raw)));
    on(SSE_EVENTS.disconnect, (d) => {
      const v = (typeof d === 'object' && d !== null ? d : {}) as { code?: unknown; reason?: unknown; name?: unknown };
      const info = { code: typeof v.code === 'number' ? v.code : ABNORMAL, reason: typeof v.reason === 'string' ? v.reason : 'disconnected' };
      this.#finish(typeof v.name === 'string' ? { ...info, name: v.name } : info);
    });
  }

  #malformed(raw: string): void {
    this.#ctx.handlers.onError(new HubbubProtocolError('sse', raw));
  }

  #finish(info: { code: number; reason: string; error?: HubbubError; name?: string }): void {
    if (this.#closed) return;
    this.close();
    this.#ctx.handlers.onClose({ ...info, opened: this.#opened });
  }

  #stopStream(): void {
    this.#ctx.env.timers.clearTimeout(this.#connectTimer);
    const es = this.#es;
    this.#es = undefined;
    // Closed before the server ends the stream, so EventSource does not reconnect on its own.
    es?.close();
  }
}

export const sseTransport: TransportFactory = {
  name: 'sse',
  capabilities: { commands: false, streaming: true },
  isAvailable: (env) => env.EventSource !== undefined,
  open: (ctx) => new SseTransport(ctx),
};
